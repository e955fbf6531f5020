"""Search quality: recall@5 and MRR per kind of query, on a curriculum corpus, Elasticsearch and embedded.

    .venv/bin/python bench/quality.py [--mode es|embedded|both] [--seed 15]

A corpus of its own: 57 real lessons (语文 部编版, 数学 人教版 / 北师大版, grades 1–9) with their grade,
volume (上册/下册) and unit, each as a lesson plan (教学设计) and a courseware (课件) resource, a few
also in a second edition, plus distractors sharing their words. Queries are generated from the
lessons (seeded), at least 15 per category:

- exact, pinyin, initials: the lesson's name, its full pinyin, its initials (what worked before);
- traditional: the name in Traditional characters (OpenCC s2t);
- homophone: one character of the name replaced by another of the same toneless pinyin (同音错字);
- fuzzy: the name's pinyin with fuzzy-pinyin slips (zh→z, ing→in, l↔n, h→f …);
- mixed: part of the name written in pinyin (sima光);
- curriculum: a position in the textbook (七年级上册第二单元 课件, 人教版五下 第四单元);
- question: the name inside a question (怎样教…, …的教学方法, 请问有没有…的课件).

Every query knows its relevant resources (the lesson's, or those at that curriculum position).
recall@5 = relevant resources among the first 5 hits / min(relevant, 5); MRR = mean of 1 / rank of
the first relevant hit (0 when none in the first 10). Queries run as the API runs them: grouped by
resource, the built-in synonyms, forgiving. es mode needs JIAOYUN_TEST_ELASTICSEARCH_URL (exported, or
read from /tmp/jiaoyun-helpers/env.sh or /tmp/jiaoyun-testinfra/env.sh) and uses an index prefix of
its own, removed at the end. Figures only, nothing asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import opencc
from elasticsearch import AsyncElasticsearch
from pypinyin import Style, lazy_pinyin

# Run as a script, Python puts bench/ first on sys.path, where bench/search.py would shadow the `search`
# package: bench/ goes, so the installed checkout (or one on PYTHONPATH, to compare) is imported.
sys.path = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

from search.documents import AccessFilter, DocKind, SearchDocument, SearchQuery  # noqa: E402
from search.elastic import ElasticsearchSearchIndex  # noqa: E402
from search.embedded import EmbeddedSearchIndex  # noqa: E402
from search.index import SearchIndex  # noqa: E402
from search.pinyin import initials, syllables  # noqa: E402
from search.synonyms import default_synonym_groups  # noqa: E402

# (name, subject, edition, grade, volume, unit)
LESSONS: tuple[tuple[str, str, str, int, str, int], ...] = (
    ("小蝌蚪找妈妈", "语文", "部编版", 2, "上册", 1),
    ("植物妈妈有办法", "语文", "部编版", 2, "上册", 1),
    ("曹冲称象", "语文", "部编版", 2, "上册", 3),
    ("望庐山瀑布", "语文", "部编版", 2, "上册", 4),
    ("登鹳雀楼", "语文", "部编版", 2, "上册", 4),
    ("坐井观天", "语文", "部编版", 2, "上册", 5),
    ("寒号鸟", "语文", "部编版", 2, "上册", 5),
    ("静夜思", "语文", "部编版", 1, "下册", 4),
    ("树和喜鹊", "语文", "部编版", 1, "下册", 5),
    ("司马光", "语文", "部编版", 3, "上册", 8),
    ("望天门山", "语文", "部编版", 3, "上册", 6),
    ("富饶的西沙群岛", "语文", "部编版", 3, "上册", 6),
    ("赵州桥", "语文", "部编版", 3, "下册", 3),
    ("火烧云", "语文", "部编版", 3, "下册", 7),
    ("观潮", "语文", "部编版", 4, "上册", 1),
    ("爬山虎的脚", "语文", "部编版", 4, "上册", 3),
    ("蝙蝠和雷达", "语文", "部编版", 4, "上册", 2),
    ("琥珀", "语文", "部编版", 4, "下册", 2),
    ("春", "语文", "部编版", 7, "上册", 1),
    ("济南的冬天", "语文", "部编版", 7, "上册", 1),
    ("秋天的怀念", "语文", "部编版", 7, "上册", 2),
    ("散步", "语文", "部编版", 7, "上册", 2),
    ("从百草园到三味书屋", "语文", "部编版", 7, "上册", 3),
    ("论语十二章", "语文", "部编版", 7, "上册", 3),
    ("皇帝的新装", "语文", "部编版", 7, "上册", 6),
    ("木兰诗", "语文", "部编版", 7, "下册", 2),
    ("卖油翁", "语文", "部编版", 7, "下册", 3),
    ("陋室铭", "语文", "部编版", 7, "下册", 4),
    ("爱莲说", "语文", "部编版", 7, "下册", 4),
    ("背影", "语文", "部编版", 8, "上册", 4),
    ("三峡", "语文", "部编版", 8, "上册", 3),
    ("桃花源记", "语文", "部编版", 8, "下册", 3),
    ("岳阳楼记", "语文", "部编版", 9, "上册", 3),
    ("醉翁亭记", "语文", "部编版", 9, "上册", 3),
    ("孔乙己", "语文", "部编版", 9, "下册", 2),
    ("出师表", "语文", "部编版", 9, "下册", 6),
    ("认识图形", "数学", "人教版", 1, "上册", 4),
    ("认识钟表", "数学", "人教版", 1, "上册", 7),
    ("认识人民币", "数学", "人教版", 1, "下册", 5),
    ("角的初步认识", "数学", "人教版", 2, "上册", 3),
    ("表内乘法", "数学", "人教版", 2, "上册", 4),
    ("长方形和正方形", "数学", "人教版", 3, "上册", 7),
    ("分数的初步认识", "数学", "人教版", 3, "上册", 8),
    ("面积", "数学", "人教版", 3, "下册", 5),
    ("小数的初步认识", "数学", "人教版", 3, "下册", 7),
    ("三角形的内角和", "数学", "人教版", 4, "下册", 5),
    ("鸡兔同笼", "数学", "人教版", 4, "下册", 9),
    ("平均数", "数学", "人教版", 4, "下册", 8),
    ("小数乘法", "数学", "人教版", 5, "上册", 1),
    ("多边形的面积", "数学", "人教版", 5, "上册", 6),
    ("植树问题", "数学", "人教版", 5, "上册", 7),
    ("分数的意义和性质", "数学", "人教版", 5, "下册", 4),
    ("长方体和正方体", "数学", "北师大版", 5, "下册", 2),
    ("圆的面积", "数学", "北师大版", 6, "上册", 1),
    ("百分数", "数学", "北师大版", 6, "上册", 4),
    ("圆柱与圆锥", "数学", "北师大版", 6, "下册", 1),
    ("勾股定理", "数学", "北师大版", 8, "上册", 1),
)
# Lessons also filed under a second edition (another lesson plan and courseware).
SECOND_EDITION = {
    "分数的意义和性质": "北师大版",
    "平均数": "北师大版",
    "圆的面积": "人教版",
    "百分数": "人教版",
}
# Resources sharing the lessons' words without being any lesson's.
DISTRACTORS = (
    "古诗二首 朗读指导",
    "妈妈的办法 亲子阅读",
    "认识更多的图形 拓展练习",
    "小数和分数 单元复习",
    "面积单位 练习课",
    "春天来了 看图写话",
    "山水诗 群文阅读",
    "三角形 分类练习",
    "正方体展开图 动手操作",
    "读书方法 指导课",
    "人民教育 专题讲座",
    "单元整体教学 设计思路",
    "作业设计 案例集",
    "课堂提问 技巧",
    "期中复习 数学",
    "期末复习 语文",
)
KINDS = (("教学设计", "lesson_plan"), ("课件", "courseware"))
CN = "零一二三四五六七八九十"
CATEGORIES = (
    "exact",
    "pinyin",
    "initials",
    "traditional",
    "homophone",
    "fuzzy",
    "mixed",
    "curriculum",
    "question",
)
# Characters a homophone may be drawn from, beside the corpus's own.
COMMON = (
    "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去行过"
    "家十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面又定见只主没公从知使工很情明性"
    "本相理意把力体回社长先部高被同程合全文手东物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外"
    "天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月"
    "公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山"
    "统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七"
    "海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万"
    "每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越"
    "织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消"
    "构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县"
    "局照参红细引听该铁价严龙飞"
)
EVERYONE = AccessFilter(see_everything=True)
_CJK = re.compile(r"^[\u4e00-\u9fff]+$")


@dataclass(frozen=True)
class Query:
    category: str
    text: str
    relevant: frozenset[str]


@dataclass(frozen=True)
class Resource:
    id: str
    lesson: str
    edition: str
    grade: int
    volume: str
    unit: int
    kind: str


def unit_name(number: int) -> str:
    return f"第{CN[number]}单元" if number <= 10 else f"第十{CN[number - 10]}单元"


def corpus() -> tuple[list[SearchDocument], list[Resource]]:
    documents: list[SearchDocument] = []
    resources: list[Resource] = []
    start = datetime(2026, 9, 1, tzinfo=UTC)

    def add(title: str, body: str, resource: Resource | None, fields: dict[str, object]) -> None:
        doc_id = str(uuid.UUID(int=len(documents) + 1))
        documents.append(
            SearchDocument(
                id=doc_id,
                kind=DocKind.resource,
                parent_id=doc_id,
                title=title,
                body=body,
                created_at=start + timedelta(hours=len(documents)),
                **fields,  # type: ignore[arg-type]
            )
        )
        if resource is not None:
            resources.append(resource)

    for name, subject, edition, grade, volume, unit in LESSONS:
        editions = [edition, *([SECOND_EDITION[name]] if name in SECOND_EDITION else [])]
        for each_edition in editions:
            for word, resource_type in KINDS:
                title = f"{name} {word}" if each_edition == edition else f"{each_edition} {name} {word}"
                doc_id = str(uuid.UUID(int=len(documents) + 1))
                resource = Resource(doc_id, name, each_edition, grade, volume, unit, resource_type)
                add(
                    title,
                    f"《{name}》{word}：教学目标、重点难点与教学过程。",
                    resource,
                    {
                        "subject": subject,
                        "edition": each_edition,
                        "grade": str(grade),
                        "stage": "小学" if grade <= 6 else "初中",
                        "volume": volume,
                        "unit": unit_name(unit),
                        "resource_type": resource_type,
                    },
                )
    for title in DISTRACTORS:
        add(title, "", None, {"subject": "语文", "resource_type": "courseware"})
    return documents, resources


def _lesson_ids(resources: Sequence[Resource], name: str, kind: str | None = None) -> frozenset[str]:
    return frozenset(r.id for r in resources if r.lesson == name and (kind is None or r.kind == kind))


def _homophone(rng: random.Random, name: str, pool: dict[str, list[str]]) -> str | None:
    """The name with one character replaced by another read the same way (same toneless pinyin)."""
    if len(name) < 3 or not _CJK.match(name):
        return None
    reading = syllables(name)
    positions = list(range(len(name)))
    rng.shuffle(positions)
    for position in positions:
        choices = [char for char in pool.get(reading[position], []) if char != name[position]]
        rng.shuffle(choices)
        for char in choices:
            typo = name[:position] + char + name[position + 1 :]
            if syllables(typo) == reading:
                return typo
    return None


_SLIPS = (
    (r"^zh", "z"),
    (r"^ch", "c"),
    (r"^sh", "s"),
    (r"ing$", "in"),
    (r"eng$", "en"),
    (r"(?<=[^iu])ang$|^ang$", "an"),
    (r"^n(?=[^g])", "l"),
    (r"^l", "n"),
    (r"^hu", "fu"),
)


def _fuzzy(rng: random.Random, name: str) -> str | None:
    reading = syllables(name)
    slippable = [
        (index, pattern, replacement)
        for index, syllable in enumerate(reading)
        for pattern, replacement in _SLIPS
        if re.search(pattern, syllable)
    ]
    if not slippable or not _CJK.match(name):
        return None
    rng.shuffle(slippable)
    slipped = list(reading)
    for index, pattern, replacement in slippable[: rng.choice((1, 2))]:
        slipped[index] = re.sub(pattern, replacement, slipped[index])
    return "".join(slipped) if slipped != reading else None


def _mixed(rng: random.Random, name: str) -> str | None:
    if len(name) < 2 or not _CJK.match(name):
        return None
    length = rng.randint(1, min(2, len(name) - 1))
    start = rng.randint(0, len(name) - length)
    part = "".join(syllables(name[start : start + length]))
    return name[:start] + part + name[start + length :]


_QUESTIONS = (
    ("怎样教{name}", None),
    ("{name}怎么教", None),
    ("如何上好{name}这一课", None),
    ("{name}的教学方法", None),
    ("请问有没有{name}的课件", "courseware"),
    ("{name}教学设计怎么写？", "lesson_plan"),
)


def _curriculum(rng: random.Random, resource: Resource) -> str:
    grade_text = rng.choice(
        (
            f"{CN[resource.grade]}年级{resource.volume}",
            f"{CN[resource.grade]}{resource.volume[0]}",
            f"{CN[resource.grade]}年级{resource.volume[0]}",
        )
    )
    edition = rng.choice((resource.edition, ""))
    return f"{edition}{grade_text}{unit_name(resource.unit)}"


def make_queries(resources: Sequence[Resource], seed: int) -> list[Query]:
    rng = random.Random(seed)
    s2t = opencc.OpenCC("s2t")
    names = [lesson[0] for lesson in LESSONS]
    pool: dict[str, list[str]] = {}
    for char in dict.fromkeys("".join(names) + COMMON):
        if _CJK.match(char):
            pool.setdefault(lazy_pinyin(char, style=Style.NORMAL)[0], []).append(char)
    queries: list[Query] = []
    for name in names:
        relevant = _lesson_ids(resources, name)
        queries.append(Query("exact", name, relevant))
        if len(name) >= 2:
            queries.append(Query("pinyin", "".join(syllables(name)), relevant))
            queries.append(Query("initials", initials(name), relevant))
        traditional = s2t.convert(name)
        if traditional != name:
            queries.append(Query("traditional", traditional, relevant))
        for category, typo in (
            ("homophone", _homophone(rng, name, pool)),
            ("fuzzy", _fuzzy(rng, name)),
            ("mixed", _mixed(rng, name)),
        ):
            if typo is not None and typo != name:
                queries.append(Query(category, typo, relevant))
        template, kind = rng.choice(_QUESTIONS)
        queries.append(Query("question", template.format(name=name), _lesson_ids(resources, name, kind)))
    lesson_resources = [r for r in resources if r.kind == "courseware"]
    rng.shuffle(lesson_resources)
    for resource in lesson_resources[:24]:
        text = _curriculum(rng, resource)
        edition = resource.edition if text.startswith(resource.edition) else None
        kind = rng.choice((None, "courseware", "lesson_plan"))
        if kind is not None:
            text += " " + dict((t, w) for w, t in KINDS)[kind]
        relevant = frozenset(
            r.id
            for r in resources
            if (r.grade, r.volume, r.unit) == (resource.grade, resource.volume, resource.unit)
            and (edition is None or r.edition == edition)
            and (kind is None or r.kind == kind)
        )
        queries.append(Query("curriculum", text, relevant))
    return queries


async def _batches(documents: Sequence[SearchDocument]) -> AsyncIterator[Sequence[SearchDocument]]:
    for start in range(0, len(documents), 200):
        yield documents[start : start + 200]


async def evaluate(index: SearchIndex, queries: Sequence[Query]) -> dict[str, tuple[float, float, int]]:
    groups = default_synonym_groups()
    recalls: dict[str, list[float]] = {}
    reciprocal: dict[str, list[float]] = {}
    for query in queries:
        search = SearchQuery(
            text=query.text,
            access=EVERYONE,
            limit=10,
            synonym_groups=groups,
            group_by_parent=True,
            # Code from before forgiving search ignores the field: the same script compares the two.
            forgiving=True,
        )
        ranked = [hit.parent_id for hit in (await index.search(search)).hits]
        top = set(ranked[:5])
        recalls.setdefault(query.category, []).append(
            len(top & query.relevant) / min(len(query.relevant), 5) if query.relevant else 0.0
        )
        first = next((rank for rank, parent in enumerate(ranked, 1) if parent in query.relevant), None)
        reciprocal.setdefault(query.category, []).append(1 / first if first else 0.0)
    return {
        category: (
            statistics.mean(recalls[category]),
            statistics.mean(reciprocal[category]),
            len(recalls[category]),
        )
        for category in recalls
    }


def _elasticsearch_url() -> str | None:
    url = os.environ.get("JIAOYUN_TEST_ELASTICSEARCH_URL")
    for path in ("/tmp/jiaoyun-helpers/env.sh", "/tmp/jiaoyun-testinfra/env.sh"):
        if url is None and Path(path).is_file():
            found = re.search(r"JIAOYUN_TEST_ELASTICSEARCH_URL=(\S+)", Path(path).read_text())
            url = found.group(1).strip("'\"") if found else None
    return url


async def run(mode: str, seed: int) -> str:
    documents, resources = corpus()
    queries = make_queries(resources, seed)
    results: dict[str, dict[str, tuple[float, float, int]]] = {}
    workdir = Path(tempfile.mkdtemp(prefix="jiaoyun-bench-quality-"))
    try:
        if mode in ("embedded", "both"):
            embedded = EmbeddedSearchIndex(workdir / "search.db")
            await embedded.ensure_ready()
            await embedded.rebuild(_batches(documents))
            results["embedded"] = await evaluate(embedded, queries)
            await embedded.close()
        if mode in ("es", "both"):
            url = _elasticsearch_url()
            if url is None:
                raise SystemExit("es mode needs JIAOYUN_TEST_ELASTICSEARCH_URL")
            client = AsyncElasticsearch(url, request_timeout=60)
            index = ElasticsearchSearchIndex(client, f"bench-quality-{uuid.uuid4().hex[:10]}")
            try:
                await index.ensure_ready()
                await index.rebuild(_batches(documents))
                await index.refresh()
                results["elasticsearch"] = await evaluate(index, queries)
            finally:
                await index.drop_all()
                await index.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    backends = list(results)
    lines = [
        f"{len(documents)} resources ({len(LESSONS)} lessons, {len(DISTRACTORS)} distractors), "
        f"{len(queries)} queries, seed {seed}",
        f"{'category':<13}{'n':>4}" + "".join(f"{b + ' R@5':>18}{b + ' MRR':>18}" for b in backends),
    ]
    for category in CATEGORIES:
        row = [results[backend].get(category) for backend in backends]
        if not any(row):
            continue
        count = next(value[2] for value in row if value)
        lines.append(
            f"{category:<13}{count:>4}"
            + "".join(f"{value[0]:>18.2f}{value[1]:>18.2f}" if value else f"{'-':>36}" for value in row)
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["es", "embedded", "both"], default="both")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--show", action="store_true", help="print the generated queries too")
    args = parser.parse_args()
    if args.show:
        _, resources = corpus()
        for query in make_queries(resources, args.seed):
            print(f"{query.category:<12} {query.text}  ({len(query.relevant)} relevant)")
    print(asyncio.run(run(args.mode, args.seed)))


if __name__ == "__main__":
    main()
