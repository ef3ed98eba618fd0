"""crnn.data.suspicious_decoding: warns about text decoded with the wrong
codec, and stays quiet on real text of many scripts decoded correctly."""

import os

import numpy as np
import pytest

from crnn.corpus import builtin_text
from crnn.data import suspicious_decoding

SHAKESPEARE = "/work/shared/data/tinyshakespeare.txt"

# Sentences written for these tests, combined at random into a long text.
SENTENCES = {
    "chinese": ["今天天气很好，我们一起去公园散步吧。", "他在图书馆里读了一本关于历史的书。",
                "这个城市的夜景非常美丽，吸引了很多游客。", "学习一门新的语言需要时间和耐心。",
                "我的朋友昨天从北京坐火车来到上海。", "春天来了，花园里开满了红色和黄色的花。"],
    "japanese": ["今日はとても良い天気ですね。", "私は毎朝コーヒーを飲みながら新聞を読みます。",
                 "東京駅で友達と待ち合わせをしました。", "このラーメンはとても美味しいです。",
                 "週末には山に登ってキャンプをする予定です。", "ひらがなとカタカナと漢字を勉強しています。"],
    "russian": ["Сегодня хорошая погода, и мы пойдём гулять в парк.",
                "Он прочитал интересную книгу об истории своего города.",
                "Зимой в этой деревне бывает очень холодно.", "Мы встретились на вокзале рано утром."],
    "greek": ["Σήμερα ο καιρός είναι πολύ ωραίος.", "Διάβασα ένα βιβλίο για την ιστορία της Αθήνας.",
              "Το καλοκαίρι πηγαίνουμε στη θάλασσα.", "Η γιαγιά μου μαγειρεύει πολύ νόστιμο φαγητό."],
    "french": ["Le café où l'on mange des crêpes à Noël est très élégant.",
               "Über den Wolken muß die Freiheit wohl grenzenlos sein, sagte der Künstler.",
               "À côté de la forêt, un garçon lisait près de la fenêtre.",
               "Ça coûte cher, mais ce gâteau à la crème est délicieux."],
    "english": ["The quick brown fox jumps over the lazy dog.", "To be, or not to be: that is the question.",
                "She sells sea shells by the sea shore.", "All that glitters is not gold."],
}


def make_text(language, n_sentences=600, seed=0):
    rng = np.random.default_rng(seed)
    sentences = SENTENCES[language]
    lines, line = [], []
    for i in rng.integers(0, len(sentences), n_sentences):
        line.append(sentences[i])
        if len(line) == 4:
            lines.append((" " if language not in ("chinese", "japanese") else "").join(line))
            line = []
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------
# Quiet on real text


@pytest.mark.parametrize("language", sorted(SENTENCES))
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le", "utf-16-be"])
def test_real_text_decoded_right_is_quiet(language, encoding):
    text = make_text(language)
    decoded = text.encode(encoding).decode(encoding)
    assert suspicious_decoding(decoded, encoding) is None


def test_single_line_chinese_without_spaces_is_quiet():
    text = make_text("chinese").replace("\n", "")
    assert suspicious_decoding(text, "utf-8") is None


def test_every_cjk_ideograph_read_as_utf16_is_quiet():
    """Real UTF-16 text of the whole CJK block: its bytes are not ASCII text."""
    ideographs = "".join(chr(c) for c in range(0x4E00, 0x9FFF))
    text = "".join(ideographs[i : i + 30] + "。\n" for i in range(0, len(ideographs), 30))
    assert suspicious_decoding(text.encode("utf-16").decode("utf-16"), "utf-16") is None


def test_latin1_file_read_as_latin1_is_quiet():
    raw = make_text("french").encode("latin-1")
    assert suspicious_decoding(raw.decode("latin-1"), "latin-1") is None
    assert suspicious_decoding(raw.decode("cp1252"), "cp1252") is None


def test_python_source_is_quiet():
    assert suspicious_decoding(builtin_text(), "utf-8") is None


@pytest.mark.skipif(not os.path.exists(SHAKESPEARE), reason="tinyshakespeare not here")
@pytest.mark.parametrize("encoding", ["utf-8", "latin-1", "ascii", "cp1252"])
def test_tinyshakespeare_is_quiet(encoding):
    with open(SHAKESPEARE, "rb") as f:
        raw = f.read()
    assert suspicious_decoding(raw.decode(encoding), encoding) is None


def test_short_text_is_never_judged():
    assert suspicious_decoding("\ufffd" * 10, "utf-8") is None


# ----------------------------------------------------------------------
# Warns on misdecoded text


def _shakespeare_bytes():
    if os.path.exists(SHAKESPEARE):
        with open(SHAKESPEARE, "rb") as f:
            return f.read()
    return make_text("english", 20_000).encode()


def test_utf8_english_read_as_utf16():
    raw = _shakespeare_bytes()
    raw = raw[: len(raw) // 2 * 2]
    message = suspicious_decoding(raw.decode("utf-16"), "utf-16", "'tiny.txt'")
    assert message is not None and "\n" not in message
    assert message.startswith("'tiny.txt' decoded as utf-16 looks wrong")
    assert "CJK" in message and "pairs of ASCII bytes" in message and "--encoding" in message


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_generated_english_read_as_utf16_either_order(encoding):
    raw = make_text("english").encode()
    raw = raw[: len(raw) // 2 * 2]
    assert "pairs of ASCII bytes" in suspicious_decoding(raw.decode(encoding), encoding)


@pytest.mark.parametrize("language", ["french", "russian", "chinese", "greek"])
@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_utf8_read_as_a_one_byte_code(language, encoding):
    raw = make_text(language).encode()
    try:
        decoded = raw.decode(encoding)
    except UnicodeDecodeError:  # cp1252 leaves 5 bytes undefined: an error already
        message = suspicious_decoding(raw.decode(encoding, "replace"), encoding)
        assert "U+FFFD" in message
    else:
        assert "UTF-8 read as" in suspicious_decoding(decoded, encoding)


def test_many_replacement_characters():
    decoded = make_text("french").encode("latin-1").decode("utf-8", "replace")
    message = suspicious_decoding(decoded, "utf-8", "'fr.txt'")
    assert "U+FFFD" in message and message.startswith("'fr.txt' decoded as utf-8")


def test_windows_quotes_read_as_latin1_suggest_cp1252():
    text = "\u201cQuoted\u201d words \u2014 and dashes \u2013 here.\n" * 50
    message = suspicious_decoding(text.encode("cp1252").decode("latin-1"), "latin-1")
    assert "C1 control" in message and "cp1252" in message


def test_binary_bytes_read_as_latin1():
    raw = bytes(b for b in np.random.default_rng(1).integers(1, 256, 5000, dtype=np.uint8))
    message = suspicious_decoding(raw.decode("latin-1"), "latin-1")
    assert "control characters" in message


def test_private_use_and_unassigned():
    private = "".join(chr(0xE000 + i % 500) for i in range(3000)) + " \n" * 200
    assert "private-use" in suspicious_decoding(private, "utf-8")
    unassigned = "abc \n" * 200 + "\U000E0080" * 100  # Cn: unassigned code point
    assert "unassigned" in suspicious_decoding(unassigned, "utf-8")


def test_many_distinct_characters_and_no_breaks():
    rng = np.random.default_rng(2)
    # Assigned letters of many scripts, no spaces or punctuation at all.
    letters = [chr(c) for c in range(0x0400, 0x0500)] + [chr(c) for c in range(0x4E00, 0x4F00)]
    text = "".join(rng.choice(letters, 5000))
    assert "distinct characters" in suspicious_decoding(text, "utf-8")
