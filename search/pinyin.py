"""Pinyin and initials, computed in Python so both backends index and query identical tokens.

Every character token of a text (see search.text.char_tokens: one CJK character, or one run of latin
letters/digits) gets a syllable and an initial. A CJK character's syllable is its toneless pinyin
(pypinyin `lazy_pinyin`, `Style.NORMAL`, ü written as v: 绿 → lv); its initial is the first letter of
that syllable, which is what `Style.FIRST_LETTER` yields. A latin or digit token is its own syllable;
its initial is its first letter (digits stay whole). Polyphonic characters are read in context:
pypinyin sees each run of adjacent CJK characters whole, so 重庆 is chong qing and 银行 yin hang. Other
readings of a polyphonic character are not indexed: a whitespace token field has one token per
position, and alternatives would need a synonym-aware analyzer that server-core Elasticsearch lacks.

Queries are latin: `split_syllables` parses a typed word (shuhexique) into syllables, every way it can,
so both the spaced and the joined spelling match the same token sequence.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from search.text import CHAR_TOKEN, CJK_CHAR, has_cjk, normalize

# Every toneless syllable pypinyin produces, minus the interjection-only m, n, ng, hm and hng, which
# would make "an", "en" or "ang" ambiguous.
_SYLLABLE_TABLE = """
    a ai an ang ao ba bai ban bang bao bei ben beng bi bian biang biao bie bin bing bo bong bu ca cai
    can cang cao ce cei cen ceng cha chai chan chang chao che chen cheng chi chong chou chu chua chuai
    chuan chuang chui chun chuo ci cong cou cu cuan cui cun cuo da dai dan dang dao de dei den deng di
    dia dian diao die din ding diu dong dou du duan dui dun duo e ei en eng er fa fan fang fei fen feng
    fiao fo fou fu ga gai gan gang gao ge gei gen geng gong gou gu gua guai guan guang gui gun guo ha
    hai han hang hao he hei hen heng hong hou hu hua huai huan huang hui hun huo ji jia jian jiang jiao
    jie jin jing jiong jiu ju juan jue jun ka kai kan kang kao ke kei ken keng kong kou ku kua kuai kuan
    kuang kui kun kuo la lai lan lang lao le lei len leng li lia lian liang liao lie lin ling liu lo
    long lou lu luan lun luo lv lve ma mai man mang mao me mei men meng mi mian miao mie min ming miu mo
    mou mu na nai nan nang nao ne nei nen neng ni nia nian niang niao nie nin ning niu nong nou nu nuan
    nun nuo nv nve o ou pa pai pan pang pao pei pen peng pi pian piao pie pin ping po pou pu qi qia qian
    qiang qiao qie qin qing qiong qiu qu quan que qun ran rang rao re ren reng ri rong rou ru rua ruan
    rui run ruo sa sai san sang sao se sen seng sha shai shan shang shao she shei shen sheng shi shou
    shu shua shuai shuan shuang shui shun shuo si song sou su suan sui sun suo ta tai tan tang tao te
    tei teng ti tian tiao tie ting tong tou tu tuan tui tun tuo wa wai wan wang wei wen weng wo wong wu
    xi xia xian xiang xiao xie xin xing xiong xiu xu xuan xue xun ya yan yang yao ye yi yin ying yo yong
    you yu yuan yue yun za zai zan zang zao ze zei zen zeng zha zhai zhan zhang zhao zhe zhei zhen zheng
    zhi zhong zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo zi zong zou zu zuan zui zun zuo
"""
SYLLABLES = frozenset(_SYLLABLE_TABLE.split())
# Spellings people type for the indexed one: 略 is indexed lve, typed lue.
_TYPED = {"lue": "lve", "nue": "nve"}
_LONGEST = max(len(syllable) for syllable in (*SYLLABLES, *_TYPED))
_TYPED_UE = re.compile(r"(?<=[ln])ue")
_QUERY_TOKEN = re.compile(r"[a-z]+|[0-9]+")

# Cartesian products of ambiguous parses (xian: xian / xi an) stop here.
MAX_ALTERNATIVES = 4
# A Chinese query is read by its pinyin (homophones) from this many characters on.
MIN_HOMOPHONE_SYLLABLES = 3
# Initials queries longer than this are not initials.
MAX_INITIALS = 32


@dataclass(frozen=True)
class PinyinToken:
    start: int
    end: int
    text: str
    syllable: str
    initial: str


@lru_cache(maxsize=8192)
def _run_syllables(run: str) -> tuple[str, ...]:
    """One syllable per character of a run of adjacent CJK characters."""
    # Imported here: pypinyin's phrase tables are ~55 MiB resident, which a process that never reads
    # Chinese as pinyin (an idle API) should not carry; after the first call this is a dict lookup.
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(run, style=Style.NORMAL)
    if len(syllables) != len(run):
        # pypinyin keeps characters it cannot read as one chunk; read the run character by character.
        syllables = [(lazy_pinyin(char, style=Style.NORMAL) or [char])[0] for char in run]
    return tuple(_ascii(syllable) or char for syllable, char in zip(syllables, run, strict=True))


def _ascii(syllable: str) -> str:
    # ê (欸) and any other marked letter lose the mark; a character pypinyin cannot read stays itself.
    folded = unicodedata.normalize("NFKD", syllable).encode("ascii", "ignore").decode().lower()
    return "".join(letter for letter in folded if "a" <= letter <= "z")


def _initial(token: str) -> str:
    return token if token.isdigit() else token[0]


@lru_cache(maxsize=4096)
def annotate(text: str) -> tuple[PinyinToken, ...]:
    """The character tokens of already-normalized text, with offsets, syllables and initials."""
    matches = list(CHAR_TOKEN.finditer(text))
    tokens: list[PinyinToken] = []
    index = 0
    while index < len(matches):
        first = matches[index]
        if not CJK_CHAR.fullmatch(first.group()):
            tokens.append(
                PinyinToken(first.start(), first.end(), first.group(), first.group(), _initial(first.group()))
            )
            index += 1
            continue
        end = index + 1
        while (
            end < len(matches)
            and matches[end].start() == matches[end - 1].end()
            and CJK_CHAR.fullmatch(matches[end].group())
        ):
            end += 1
        run = matches[index:end]
        for match, syllable in zip(run, _run_syllables("".join(m.group() for m in run)), strict=True):
            tokens.append(PinyinToken(match.start(), match.end(), match.group(), syllable, syllable[0]))
        index = end
    return tuple(tokens)


def syllables(text: str) -> list[str]:
    return [token.syllable for token in annotate(normalize(text))]


def initial_letters(text: str) -> list[str]:
    return [token.initial for token in annotate(normalize(text))]


def pinyin_field(text: str) -> str:
    """Indexed token field: one syllable per character token, in order (树和喜鹊 → shu he xi que)."""
    return " ".join(syllables(text))


def initials_field(text: str) -> str:
    """Indexed token field: one initial per character token, in order (树和喜鹊 → s h x q)."""
    return " ".join(initial_letters(text))


def full_pinyin(text: str) -> str:
    """The whole text's pinyin joined: 树和喜鹊 → shuhexique."""
    return "".join(syllables(text))


def initials(text: str) -> str:
    """The whole text's initials joined: 树和喜鹊 → shxq."""
    return "".join(initial_letters(text))


@lru_cache(maxsize=4096)
def split_syllables(word: str, limit: int = MAX_ALTERNATIVES) -> tuple[tuple[str, ...], ...]:
    """Every way a typed latin word splits into pinyin syllables, fewest syllables first.

    shuhexique → (shu he xi que); xian → (xian), (xi an); unit → none. Typed lue/nue become lve/nve.
    """
    word = word.lower()
    if not word.isascii() or not word.isalpha() or len(word) > 64:
        return ()

    memo: dict[int, tuple[tuple[str, ...], ...]] = {len(word): ((),)}

    def parses(start: int) -> tuple[tuple[str, ...], ...]:
        if start in memo:
            return memo[start]
        found: list[tuple[str, ...]] = []
        for end in range(min(len(word), start + _LONGEST), start, -1):
            piece = word[start:end]
            syllable = _TYPED.get(piece, piece)
            if syllable not in SYLLABLES:
                continue
            found.extend((syllable, *rest) for rest in parses(end))
            if len(found) >= 4 * limit:
                break
        memo[start] = tuple(found)
        return memo[start]

    ranked = sorted(dict.fromkeys(parses(0)), key=len)
    return tuple(ranked[:limit])


def query_pinyin(text: str) -> tuple[str, ...]:
    """Syllable phrases a latin query may mean, space-joined, for phrase queries on pinyin_field.

    Empty unless every latin word of the query is pinyin and there are at least two syllables: one
    syllable (shu, he) matches too many titles to be useful in search.
    """
    return latin_syllable_phrases(text, split_syllables)


def query_initials(text: str) -> str | None:
    """The letters of a letters-only query as an initials phrase (shxq → "s h x q"), else None."""
    folded = normalize(text)
    if has_cjk(folded) or any(char.isdigit() for char in folded):
        return None
    letters = "".join(_QUERY_TOKEN.findall(folded))
    if not 2 <= len(letters) <= MAX_INITIALS:
        return None
    return " ".join(letters)


def typed_pinyin(text: str) -> str:
    """A latin prefix as the joined form pinyin keys are stored in (shu he xi → shuhexi)."""
    return _TYPED_UE.sub("ve", "".join(_QUERY_TOKEN.findall(normalize(text))))


Parser = Callable[[str], tuple[tuple[str, ...], ...]]


def _latin_choices(token: PinyinToken, split: Parser) -> tuple[tuple[str, ...], ...]:
    """How a latin or digit token of a query may read as syllables: its pinyin parses, else itself (a
    title's pinyin field holds its latin words and numbers as they are: Unit 3 → unit 3)."""
    if token.text.isalpha():
        parsed = split(token.text)
        if parsed:
            return parsed
    return ((token.text,),)


def query_syllable_phrases(
    text: str,
    *,
    homophones: bool,
    split: Parser = split_syllables,
    fold: Callable[[str], str] | None = None,
) -> tuple[str, ...]:
    """Syllable phrases a query containing Chinese may mean, for phrase queries on the title's pinyin.

    A mixed query (sima光, 三角形nei角和) reads its Chinese characters by their pinyin and its latin
    words as pinyin where they parse: si ma guang. A Chinese-only query reads as its pinyin only with
    homophones, and at least MIN_HOMOPHONE_SYLLABLES long (so a homophone typo, 瀑不 for 瀑布, finds the
    title; two syllables would find words spanning a boundary: 时钟 in 认识钟表). With fold, every
    syllable is folded (search.fuzzy) and split parses latin words into folded syllables. At least two
    syllables.
    """
    folded = normalize(text)
    tokens = annotate(folded)
    if not any(CJK_CHAR.fullmatch(token.text) for token in tokens):
        return ()
    mixed = any(token.text.isalpha() and token.text.isascii() and split(token.text) for token in tokens)
    cjk = sum(1 for token in tokens if CJK_CHAR.fullmatch(token.text))
    if not (mixed or (homophones and cjk >= MIN_HOMOPHONE_SYLLABLES)):
        return ()
    choices: list[tuple[tuple[str, ...], ...]] = []
    for token in tokens:
        if CJK_CHAR.fullmatch(token.text):
            choices.append(((fold(token.syllable) if fold else token.syllable,),))
        else:
            choices.append(_latin_choices(token, split))
    phrases: list[str] = []
    for combination in itertools.islice(itertools.product(*choices), MAX_ALTERNATIVES):
        sequence = [syllable for part in combination for syllable in part]
        if len(sequence) >= 2:
            phrases.append(" ".join(sequence))
    return tuple(dict.fromkeys(phrases))


def latin_syllable_phrases(text: str, split: Parser) -> tuple[str, ...]:
    """query_pinyin with another parser (search.fuzzy's folded one)."""
    folded = normalize(text)
    if has_cjk(folded):
        return ()
    tokens = _QUERY_TOKEN.findall(folded)
    if not any(token.isalpha() for token in tokens):
        return ()
    choices: list[tuple[tuple[str, ...], ...]] = []
    for token in tokens:
        if token.isdigit():
            choices.append(((token,),))
            continue
        parsed = split(token)
        if not parsed:
            return ()
        choices.append(parsed)
    phrases: list[str] = []
    for combination in itertools.islice(itertools.product(*choices), MAX_ALTERNATIVES):
        sequence = [syllable for part in combination for syllable in part]
        if len(sequence) >= 2:
            phrases.append(" ".join(sequence))
    return tuple(dict.fromkeys(phrases))
