"""Train on the first 90% of tinyshakespeare, evaluate on the last 10%.

Reference settings (hidden 100, seq_length 25, learning rate 0.1, batch 1,
float64), seed 0, 50,000 iterations unless told otherwise:

    python scripts/eval_shakespeare.py [--data PATH] [--iterations N] [--seed S]

Reported twice: reading the held-out text from a zero state (the default of
CharRNN.evaluate) and from the training state (warm_start=True), since the
held-out tail continues the training text.

The vocabulary is built from the whole file so the held-out part has no
unknown characters (tinyshakespeare's 65 characters all occur in the first
90%, so this only fixes the id table).
"""

import argparse
import json
import time

import crnn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/tinyshakespeare.txt")
    parser.add_argument("--iterations", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", help="also write the trained model here")
    args = parser.parse_args()

    text = crnn.data.read_text(args.data)
    split = int(len(text) * 0.9)
    vocab = crnn.Vocab.from_text(text)
    train_ids = crnn.data.encode_corpus(text[:split], vocab)
    model = crnn.CharRNN(vocab, hidden_size=100, seq_length=25, learning_rate=0.1, seed=args.seed)

    def progress(model, info):
        print(f"iteration {info['iteration']:>6}  smooth loss {info['smooth_loss'] / model.seq_length:.4f}"
              f" nats/char  {info['chars_per_sec']:,.0f} chars/s", flush=True)

    start = time.perf_counter()
    model.train(train_ids, iterations=args.iterations, callback=progress, callback_every=10_000)
    seconds = time.perf_counter() - start
    result = model.evaluate(text[split:])
    warm = model.evaluate(text[split:], warm_start=True)
    result.update(warm_start_nats_per_char=warm["nats_per_char"],
                  warm_start_bits_per_char=warm["bits_per_char"])
    result.update(iterations=args.iterations, seed=args.seed, train_seconds=round(seconds, 1),
                  train_chars=split, validation_chars=len(text) - split)
    print(json.dumps(result, indent=2))
    if args.save:
        model.save(args.save)


if __name__ == "__main__":
    main()
