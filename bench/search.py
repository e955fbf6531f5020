"""Search: bulk indexing rate and query latency on generated resources, Elasticsearch and embedded.

    .venv/bin/python bench/search.py [--resources 100000] [--queries 300] [--mode es|embedded|both]

Generates N resources as search documents (seeded, so every run indexes the same text): titles made
of real lesson names (树和喜鹊, 望庐山瀑布, 分数的初步认识 …), curriculum metadata, ~1 in 5 with three
document pages and ~1 in 10 with five subtitle cues. Loads them with `rebuild()` into Elasticsearch
and into the embedded SQLite FTS5 index, then times the same queries three ways: through the real
API (`jiaoyun serve` as a subprocess, signed in as a student), the identical request body sent
straight to Elasticsearch with the official client, and the embedded index in-process. The resources
are also written to the database (as rows: owner, school, visibility, status), so the API's re-check
of each page of hits against the database finds them; its cost is timed alone too, on each query's
first page of hits (one batched query per page). Figures only.

es mode needs the servers of scripts/test-servers.sh (JIAOYUN_TEST_* variables, exported or read from
/tmp/jiaoyun-testinfra/env.sh) and works in a database, bucket and index prefix of its own, removed at
the end. embedded mode needs no server.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import opencc
from elasticsearch import AsyncElasticsearch
from elasticsearch.serializer import OrjsonSerializer
from upload import (
    PASSWORD,
    BenchServer,
    best_effort,
    expect,
    progress,
    remove_tenant,
    sign_in,
    start_bench_server,
    testinfra_servers,
)

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts bench/ first on sys.path, where this very file would shadow the
# `search` package: the checkout goes in front of it.
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from search.documents import (  # noqa: E402
    AccessFilter,
    DocKind,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResult,
)
from search.elastic import ElasticsearchSearchIndex  # noqa: E402
from search.embedded import EmbeddedSearchIndex  # noqa: E402
from search.fuzzy import DEFAULT_FUZZY, fuzzy_field  # noqa: E402
from search.index import SearchIndex  # noqa: E402
from search.pinyin import full_pinyin, initials, initials_field, pinyin_field, syllables  # noqa: E402
from search.suggest import SUGGEST_KINDS, suggest_keys  # noqa: E402
from search.synonyms import default_synonym_groups  # noqa: E402
from search.text import chars_field, has_cjk, words_field  # noqa: E402
from services.authz import Principal  # noqa: E402
from services.resources.curriculum import SUBJECTS, stage_for_grade  # noqa: E402
from services.search import service as search_service  # noqa: E402
from storage.database import create_engine, create_sessionmaker  # noqa: E402
from storage.migrate import upgrade_to_head_async  # noqa: E402
from storage.models.identity import PublicationStatus, Role, School, User, Visibility  # noqa: E402
from storage.models.resources import Resource, ResourceType  # noqa: E402
from tests.live import Tenant  # noqa: E402

SCHOOLS = 50
# The student's school: one of the generated schools, holding ~1/SCHOOLS of the resources.
STUDENT_SCHOOL = 17
BATCH = 500
WARMUP = 20
# Resources are dated within the three years before this.
END = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
SPAN = timedelta(days=3 * 365)

# -- vocabulary --------------------------------------------------------------------------------------


def split(text: str, separator: str = "/") -> tuple[str, ...]:
    return tuple(text.split(separator))


# Subject, then "grade|lesson/lesson/…" lines; "3-6|…" means any grade in the range.
_LESSONS = """
语文
1|秋天/小小的船/江南/四季/比尾巴/青蛙写诗/雪地里的小画家/乌鸦喝水/小蜗牛/姓氏歌/静夜思/池上/小池/荷叶圆圆
1|要下雨了/咕咚/小猴子下山
2|小蝌蚪找妈妈/我是什么/植物妈妈有办法/树和喜鹊/登鹳雀楼/望庐山瀑布/坐井观天/寒号鸟/曹冲称象/朱德的扁担
2|日月潭/葡萄沟/村居/咏柳/千人糕/亡羊补牢/揠苗助长/画杨桃
3|大青树下的小学/花的学校/山行/赠刘景文/夜书所见/富饶的西沙群岛/美丽的小兴安岭/望天门山/饮湖上初晴后雨
3|司马光/燕子/荷花/赵州桥/守株待兔/纸的发明/惊弓之鸟
4|观潮/走月亮/爬山虎的脚/蟋蟀的住宅/题西林壁/雪梅/精卫填海/盘古开天地/普罗米修斯/白鹅/猫/母鸡/海上日出
4|记金华的双龙洞/飞向蓝天的恐龙/琥珀
5|白鹭/落花生/桂花雨/珍珠鸟/将相和/草船借箭/景阳冈/猴王出世/少年中国说/圆明园的毁灭/慈母情深/军神/刷子李
5|牛郎织女/四时田园杂兴/稚子弄冰
6|草原/丁香结/七律·长征/狼牙山五壮士/开国大典/灯光/桥/穷人/少年闰土/好的故事/匆匆/北京的春节/腊八粥
6|鲁滨逊漂流记/两小儿辩日/学弈/为人民服务
7|春/济南的冬天/雨的四季/观沧海/次北固山下/天净沙·秋思/秋天的怀念/散步/从百草园到三味书屋/论语十二章
7|皇帝的新装/植树的牧羊人/木兰诗/卖油翁/陋室铭/爱莲说/紫藤萝瀑布
8|背影/白杨礼赞/昆明的雨/三峡/答谢中书书/记承天寺夜游/与朱元思书/桃花源记/小石潭记/岳阳楼记/醉翁亭记
8|愚公移山/周亚夫军细柳/藤野先生/回忆我的母亲/社戏/安塞腰鼓
9|沁园春·雪/我爱这土地/乡愁/故乡/孔乙己/范进中举/出师表/鱼我所欲也/智取生辰纲/邹忌讽齐王纳谏/湖心亭看雪
9|送东阳马生序
10|沁园春·长沙/荷塘月色/故都的秋/赤壁赋/劝学/师说/登高/琵琶行/念奴娇·赤壁怀古/永遇乐·京口北固亭怀古
10|声声慢/百合花/哦，香雪
11|祝福/林黛玉进贾府/鸿门宴/归去来兮辞/兰亭集序/雷雨/窦娥冤/蜀道难/将进酒/阿房宫赋/六国论
12|庖丁解牛/逍遥游/过秦论/陈情表/项脊轩志/种树郭橐驼传/装在套子里的人/复活
数学
1|准备课/比多少/1～5的认识和加减法/认识图形/10以内的加法/认识钟表/20以内的进位加法/认识人民币
1|100以内数的认识/找规律
2|长度单位/100以内的加法和减法/角的初步认识/表内乘法/观察物体/表内除法/混合运算/有余数的除法
2|万以内数的认识/克和千克/图形的运动
3|时分秒/万以内的加法和减法/测量/倍的认识/多位数乘一位数/长方形和正方形/分数的初步认识/位置与方向
3|两位数乘两位数/面积/年月日/小数的初步认识/搭配问题
4|大数的认识/公顷和平方千米/角的度量/三位数乘两位数/平行四边形和梯形/除数是两位数的除法/条形统计图
4|运算定律/小数的意义和性质/三角形/三角形的内角和/鸡兔同笼/平均数
5|小数乘法/小数除法/简易方程/多边形的面积/平行四边形的面积/梯形的面积/植树问题/因数与倍数/长方体和正方体
5|分数的意义和性质/分数的加法和减法/折线统计图/找次品
6|分数乘法/分数除法/比的认识/圆的认识/圆的周长/圆的面积/百分数的应用/扇形统计图/负数的认识/圆柱的体积
6|圆锥的体积/比例/正比例和反比例/鸽巢问题
7|正数和负数/有理数的加法/有理数的乘方/整式的加减/一元一次方程/几何图形初步/相交线与平行线/平行线的性质
7|实数/平面直角坐标系/二元一次方程组/不等式与不等式组
8|全等三角形/轴对称/等腰三角形/整式的乘法与因式分解/分式/二次根式/勾股定理/平行四边形/一次函数
8|一次函数的图像/数据的分析
9|一元二次方程/二次函数/二次函数的图像和性质/旋转/垂径定理/圆周角定理/概率初步/反比例函数/相似三角形
9|锐角三角函数/投影与视图
10|集合的概念/集合间的基本关系/函数的概念及其表示/函数的单调性/指数函数/对数函数/函数的零点
10|任意角和弧度制/三角函数的诱导公式/平面向量的数量积/复数的四则运算
11|直线的倾斜角与斜率/圆的方程/椭圆及其标准方程/双曲线/抛物线/空间向量/等差数列/等比数列/数列求和
12|导数的概念/导数的几何意义/导数在研究函数中的应用/排列与组合/二项式定理/条件概率/正态分布/古典概型
英语
3|Unit 1 Hello!/Unit 2 Colours/Unit 3 Look at me!/Unit 4 We love animals/Unit 5 Let's eat!
3|Unit 6 Happy birthday!
4|Unit 1 My classroom/Unit 2 My schoolbag/Unit 3 My friends/Unit 4 My home/Unit 5 Dinner's ready
4|Unit 6 Meet my family!
5|Unit 1 What's he like?/Unit 2 My week/Unit 3 What would you like?/Unit 4 What can you do?
5|Unit 6 In a nature park
6|Unit 1 How can I get there?/Unit 2 Ways to go to school/Unit 3 My weekend plan/Unit 4 I have a pen pal
6|Unit 6 How do you feel?
7|Unit 1 My name's Gina./Unit 2 This is my sister./Unit 3 Is this your pencil?
7|Unit 4 Where's my schoolbag?
8|Unit 1 Where did you go on vacation?/Unit 2 How often do you exercise?
8|Unit 4 What's the best movie theater?
9|Unit 1 How can we become good learners?/Unit 2 I think that mooncakes are delicious!
9|Unit 4 I used to be afraid of the dark.
10|Unit 1 Teenage life/Unit 2 Travelling around/Unit 3 Sports and fitness/Unit 4 Natural disasters
11|Unit 1 Cultural heritage/Unit 2 Wildlife protection/Unit 3 The Internet/Unit 5 Music
12|Unit 1 Science and scientists/Unit 2 Looking into the future/Unit 3 Environmental protection
物理
8|声音的产生与传播/声音的特性/光的直线传播/光的反射/平面镜成像/光的折射/凸透镜成像的规律/熔化和凝固
8|质量与密度/弹力/重力/牛顿第一定律/二力平衡/摩擦力/压强/液体的压强/大气压强/浮力/阿基米德原理/杠杆/滑轮
9|分子热运动/内能/比热容/热机/电流和电路/串联和并联/电压/电阻/欧姆定律/电功率/焦耳定律/家庭电路/电生磁
9|电动机/磁生电
10|质点 参考系/位移和时间/匀变速直线运动的研究/自由落体运动/牛顿第二定律/超重和失重/曲线运动/抛体运动
10|圆周运动/万有引力定律/机械能守恒定律
11|库仑定律/电场强度/电容器的电容/闭合电路的欧姆定律/电磁感应现象/楞次定律/动量守恒定律/简谐运动/机械波
12|交变电流/变压器/分子动理论/气体的等温变化/光电效应/核裂变与核聚变
化学
9|走进化学实验室/空气/氧气/制取氧气/分子和原子/原子的结构/元素/化学式与化合价/水的组成/质量守恒定律
9|如何正确书写化学方程式/二氧化碳制取的研究/燃烧和灭火/金属的化学性质/溶液的形成/溶解度/常见的酸和碱
9|酸和碱的中和反应
10|物质的分类及转化/离子反应/氧化还原反应/钠及其化合物/氯及其化合物/物质的量/原子结构与元素周期表
10|元素周期律/化学键
11|化学反应的热效应/化学反应速率/化学平衡/电离平衡/盐类的水解/原电池/电解池/金属的腐蚀与防护
12|有机化合物的结构特点/卤代烃/糖类/蛋白质/合成高分子
生物
7|生物与环境/生态系统/练习使用显微镜/植物细胞/动物细胞/细胞的生活/细胞分裂/种子的萌发/开花和结果/光合作用
7|呼吸作用/消化和吸收/血液循环/输血与血型/神经系统的组成
8|鱼/鸟/哺乳动物/动物的运动/细菌/真菌/病毒/植物的生殖/昆虫的生殖和发育/生物的变异/传染病及其预防
8|免疫与计划免疫
10|细胞中的无机物/核酸是遗传信息的携带者/细胞膜的结构和功能/细胞器之间的分工合作/光合作用与能量转化
10|细胞的增殖/有丝分裂/孟德尔的豌豆杂交实验/减数分裂和受精作用/DNA是主要的遗传物质/DNA的复制/基因突变
11|神经调节/体液调节/免疫调节/植物生长素/种群的数量特征/群落的结构/生态系统的能量流动/生态系统的物质循环
12|发酵工程/植物细胞工程/动物细胞工程/基因工程的基本操作程序
科学
1|我们知道的植物/观察叶/校园里的动物/蜗牛
2|我们的地球家园/磁铁能吸引什么/磁铁的两极
3|水的三态变化/空气占据空间吗/蚕的一生/太阳的位置和方向
4|种子发芽实验/简单电路/电路出故障了/声音是怎样产生的
5|光的传播/地球的表面/热是怎样传递的/运动和力
6|月相变化/太阳系大家族/工具与技术/生物的多样性/物质的变化
历史
7|原始农耕生活/远古的传说/夏商周的更替/百家争鸣/秦统一中国/秦末农民大起义/丝绸之路/三国鼎立
7|隋朝的统一与灭亡/贞观之治/安史之乱与唐朝衰亡/明朝的对外关系
8|鸦片战争/第二次鸦片战争/洋务运动/甲午中日战争/戊戌变法/辛亥革命/新文化运动/五四运动/中国共产党诞生
8|红军长征/人民解放战争/中华人民共和国成立/改革开放
9|古代埃及/古代希腊/罗马城邦和罗马帝国/文艺复兴运动/新航路的开辟/美国的独立/法国大革命/第一次工业革命
9|第二次工业革命/第一次世界大战/第二次世界大战
10|中华文明的起源与早期国家/诸侯纷争与变法运动/秦统一多民族封建国家的建立/辽宋夏金元的统治
10|明清中国版图的奠定/两次鸦片战争
地理
7|地球和地球仪/地图的阅读/等高线地形图/大洲和大洋/海陆的变迁/天气与气候/气温的变化与分布/降水的变化与分布
7|世界的气候/人口与人种/东南亚/俄罗斯
8|疆域/人口/民族/地形和地势/气候/河流/长江/黄河/自然资源/交通运输/农业/工业/北方地区/南方地区/西北地区
8|青藏地区
10|地球的宇宙环境/太阳对地球的影响/地球的圈层结构/大气的组成和垂直分层/大气受热过程/水循环/海水的运动
10|常见地貌类型/植被与土壤/自然灾害
11|地球的运动/岩石圈物质循环/气压带和风带/洋流/人口分布/城镇化/农业区位因素/工业区位因素/交通运输布局
道德与法治
1|开开心心上学去/我们的校园/上学路上/吃饭有讲究
2|我们的节假日/假期有收获/清新空气是个宝
3|我是独特的/我的家庭贡献与责任/安全记心上
4|我们班四岁了/我们的班规我们订/少让父母为我操心
5|自主选择课余生活/我们的国土我们的家/中华民族一家亲
6|感受生活中的法律/宪法是根本法/认识居民身份证
7|中学时代/珍爱生命/做更好的自己/青春的邀约
8|网络生活新空间/遵守规则/社会生活讲道德/做守法的公民
9|富强与创新/中华优秀传统文化/我们共同的世界
思想政治
10-12|社会主义从空想到科学/中国特色社会主义的开创与发展/我国的基本经济制度/新发展理念/人民代表大会制度
10-12|文化自信/探索世界与把握规律/价格变动的影响
音乐
1-3|你的名字叫什么/小青蛙找家/小红帽/数鸭子/让我们荡起双桨/彼得与狼
4-6|茉莉花/八音盒/小白船/卢沟谣/歌唱祖国/七子之歌
7-9|青春舞曲/采茶舞曲/我和你/沂蒙山小调
美术
1-3|彩色的世界/会变的线条/剪纸中的花草/水墨游戏/色彩的冷暖
4-6|线条的魅力/中国画中的山水/设计标志/民间玩具/剪纸艺术/版画
7-9|色彩的情感/中国山水画/设计服务生活
体育与健康
1-9|立定跳远/前滚翻/跳绳/篮球运球/50米快速跑/足球脚内侧传球/广播体操/排球垫球/实心球/武术基本功/耐久跑
1-9|蹲踞式跳远
信息科技
3-9|认识计算机/画图软件的使用/键盘指法练习/算法与流程图/数据的编码/网络安全/人工智能初体验/物联网
3-9|Python编程基础
劳动
1-9|整理书包/包饺子/种植小番茄/洗红领巾/学做凉拌菜/木工小板凳
心理健康
1-9|情绪小怪兽/学会合作/考试焦虑的调适/认识我自己/与父母有效沟通
书法
3-6|横画的写法/竖画的写法/永字八法/点画的写法
"""

SUBJECT_WEIGHTS = {
    "语文": 25,
    "数学": 22,
    "英语": 12,
    "物理": 5,
    "化学": 4,
    "生物": 4,
    "科学": 4,
    "历史": 4,
    "地理": 4,
    "道德与法治": 5,
    "思想政治": 2,
    "音乐": 2,
    "美术": 2,
    "体育与健康": 2,
    "信息科技": 2,
    "劳动": 1,
    "心理健康": 1,
    "书法": 1,
}
EDITIONS = {
    "语文": ("部编版",),
    "数学": ("人教版", "北师大版", "苏教版"),
    "英语": ("人教版", "外研版", "译林版"),
    "物理": ("人教版", "沪科版", "教科版"),
    "化学": ("人教版", "沪教版"),
    "生物": ("人教版", "北师大版"),
    "科学": ("教科版", "苏教版"),
    "历史": ("部编版",),
    "地理": ("人教版", "湘教版"),
    "道德与法治": ("部编版",),
    "思想政治": ("部编版",),
    "音乐": ("人音版", "湘艺版"),
    "美术": ("人美版", "湘美版"),
    "体育与健康": ("人教版",),
    "信息科技": ("浙教版", "人教版"),
    "劳动": ("人教版", "苏教版"),
    "心理健康": ("北师大版",),
    "书法": ("人美版",),
}
# resource_type → (weight, title words for it, has pages, has cues)
RESOURCE_TYPES = {
    "lesson_record": (20, ("课堂实录", "公开课", "优质课", "示范课", "课例"), False, True),
    "micro_lesson": (15, ("微课", "微课视频"), False, True),
    "courseware": (22, ("课件", "PPT课件", "优质课件"), True, False),
    "lesson_plan": (18, ("教学设计", "教案", "说课稿", "教学设计及反思"), True, False),
    "study_guide": (7, ("导学案", "学案", "学习任务单"), True, False),
    "assignment": (9, ("作业设计", "分层作业", "课后练习"), True, False),
    "exam": (6, ("单元测试卷", "课时练习", "单元检测"), True, False),
    "research": (3, ("教学反思", "课例研究", "教研报告"), True, False),
}
# Out of the resources with documents (65%) / videos (35%): ~1 in 5 / ~1 in 10 of all resources.
PAGES_SHARE = 0.2 / 0.65
CUES_SHARE = 0.1 / 0.35
CN = "零一二三四五六七八九十"
GRADE_LABELS: tuple[str, ...] = split(
    "-/一年级/二年级/三年级/四年级/五年级/六年级/七年级/八年级/九年级/高一/高二/高三"
)
HIGH_VOLUMES = ("必修第一册", "必修第二册", "选择性必修第一册", "选择性必修第二册")
TAGS = {
    tag: int(weight)
    for tag, weight in (
        item.split(":")
        for item in split(
            "公开课:8 优质课:6 新授课:10 复习课:5 大单元教学:6 双减:5 核心素养:6 新课标:7 跨学科:3 "
            "项目式学习:3 信息技术融合:3 整本书阅读:2 古诗:4 识字:3 写作:3 实验:4 比赛获奖:2 "
            "校本课程:2 示范课:3 期末复习:3",
            " ",
        )
    )
}
SKILLS = split(
    "体会作者表达的思想感情/会认本课生字，掌握重点字词/提升阅读理解能力/经历探究过程，发展数感和量感/学会用所学知识解决实际问题/"
    "培养观察和动手实验的能力/提升语言运用能力/能正确、流利、有感情地朗读课文/理解概念的形成过程/"
    "学会与同伴合作交流/形成初步的科学思维"
)
METHODS = split("情境教学法/小组合作学习/任务驱动/问题链引导/探究式学习/读写结合/游戏化教学")
EFFECTS = split(
    "课堂氛围活跃，学生参与度高/注重学生核心素养的培养/落实双减要求，分层设计作业/"
    "充分利用多媒体课件辅助教学/教学环节紧凑，重难点突出/关注学困生，当堂反馈达标情况"
)
EXTRAS = split("课件、教案和课后练习/板书设计和教学反思/微课视频和学习任务单/配套习题及答案/评价量表")
CUE_LINES = split(
    "同学们好，今天我们一起学习《{lesson}》。/请大家打开课本，自由朗读第一自然段。/谁来说一说你的发现？/"
    "我们先来看这道例题，想一想应该怎么做。/非常好，掌声送给他。/请同学们小组讨论，时间三分钟。/"
    "下面我们来做一个小实验，注意观察现象。/这个词语是什么意思？联系上下文想一想。/"
    "大家看黑板，这就是我们今天的重点。/这节课我们学习了《{lesson}》，你有什么收获？/"
    "课后请完成练习册第{page}页的题目。"
)
SCHOOL_PLACES = split(
    "城关/城南/城北/东关/西关/新华路/人民路/解放路/建设路/光明/朝阳/滨江/湖滨/开发区/高新区/"
    "青山/白沙/桃源/金桥/凤凰"
)
SCHOOL_KINDS = split("第一小学/第二小学/实验小学/中心小学/初级中学/中学/实验中学/高级中学")

# Queries: single words and word pairs a teacher or student types.
QUERY_WORDS = split(
    "喜鹊/瀑布/古诗/分数/光合作用/钟表/识字/朗读/实验/函数/三角形/方程/单元测试/说课/微课/作业设计/"
    "公开课/课堂实录/浮力/欧姆定律/细胞/生态系统/鸦片战争/地形/宪法/茉莉花/剪纸/跳绳/小数/面积/"
    "春天/妈妈/第二课时/大单元/核心素养/人教版 课件/部编 教案/ppt/导学案/古诗 朗读/分数 应用/unit"
)
SUBJECT_QUERY_WORDS = {
    "语文": ("古诗", "朗读", "识字", "课文", "生字", "阅读", "春", "瀑布"),
    "数学": ("分数", "面积", "方程", "函数", "三角形", "加法", "认识", "小数", "圆"),
    "英语": ("unit", "my friends", "hello", "colours"),
    "物理": ("浮力", "电路", "欧姆定律", "光的折射", "压强"),
    "化学": ("氧气", "化学方程式", "酸和碱", "实验"),
    "生物": ("细胞", "光合作用", "生态系统", "遗传"),
    "历史": ("鸦片战争", "革命", "统一"),
    "地理": ("气候", "地形", "河流"),
}
# Query categories and their share of the mix, in percent.
CATEGORIES = {
    "word": 25,
    "title": 15,
    "pinyin": 10,
    "initials": 10,
    "subject+text": 15,
    "filters only": 10,
    "newest": 10,
    "own school": 5,
}
# Queries search forgives (issue 15), added on top of the mix above with --forgiving N (N / 6 each),
# so the mix above stays the same queries as before and comparable with runs of older code.
FORGIVING_CATEGORIES = ("traditional", "fuzzy", "mixed", "homophone", "curriculum", "question")
_FUZZY_SLIPS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("ing", "in"), ("eng", "en"))


@dataclass(frozen=True)
class Lesson:
    subject: str
    grades: tuple[int, int]
    title: str


def parse_lessons(table: str) -> dict[str, list[Lesson]]:
    lessons: dict[str, list[Lesson]] = {}
    subject = ""
    for line in table.strip().splitlines():
        if "|" not in line:
            subject = line.strip()
            if subject not in SUBJECTS:
                raise ValueError(f"not a curriculum subject: {subject}")
            continue
        grades, titles = line.split("|", 1)
        low, _, high = grades.partition("-")
        for title in titles.split("/"):
            lessons.setdefault(subject, []).append(Lesson(subject, (int(low), int(high or low)), title))
    return lessons


LESSONS = parse_lessons(_LESSONS)
CHINESE_LESSONS = [
    lesson.title
    for lessons in LESSONS.values()
    for lesson in lessons
    if has_cjk(lesson.title) and lesson.title.isalpha() and 3 <= len(lesson.title) <= 7
]

# -- documents ---------------------------------------------------------------------------------------


def make_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def title_for(rng: random.Random, lesson: str, words: Sequence[str], context: dict[str, str]) -> str:
    word = rng.choice(words)
    period = rng.randint(1, 3)
    shape = rng.random()
    if shape < 0.3:
        return f"{lesson}{word}"
    if shape < 0.5:
        return f"《{lesson}》{word}"
    if shape < 0.65:
        return f"{lesson} 第{period}课时"
    if shape < 0.8:
        return f"{context['edition']}{context['grade']}{context['volume']}《{lesson}》{word}"
    if shape < 0.9:
        return lesson
    return f"《{lesson}》第{CN[period]}课时{word}"


def description_for(rng: random.Random, lesson: str, context: dict[str, str]) -> str:
    sentences = [
        f"本课选自{context['edition']}{context['grade']}{context['subject']}{context['volume']}"
        f"{context['unit']}，课题为《{lesson}》。",
        f"教学目标：{rng.choice(SKILLS)}，{rng.choice(SKILLS)}。",
        f"本节课采用{rng.choice(METHODS)}，{rng.choice(EFFECTS)}。",
        f"适用于{context['grade']}{context['subject']}{rng.choice(('新授课', '复习课', '练习课'))}。",
        f"资源包含{rng.choice(EXTRAS)}，可直接下载使用。",
    ]
    return "".join(rng.sample(sentences, rng.randint(2, 5)))


def page_texts(rng: random.Random, lesson: str, context: dict[str, str]) -> list[str]:
    return [
        f"《{lesson}》{context['subject']}教学设计\n教学目标：1.{rng.choice(SKILLS)}。2.{rng.choice(SKILLS)}。"
        f"3.{rng.choice(SKILLS)}。\n教学重点：理解《{lesson}》的主要内容。\n"
        f"教学难点：{rng.choice(SKILLS)}。\n教学准备：多媒体课件、学习任务单。",
        f"教学过程\n一、创设情境，导入新课\n出示图片，引出课题《{lesson}》。\n二、初步感知，整体把握\n"
        f"学生自主学习，{rng.choice(SKILLS)}。\n三、合作探究，突破难点\n采用{rng.choice(METHODS)}，"
        f"小组交流汇报。\n四、巩固练习，拓展延伸\n完成课本第{rng.randint(5, 120)}页练习。",
        f"板书设计\n{lesson}\n重点 → 方法 → 应用\n作业布置\n1.基础题：完成练习册。"
        f"2.拓展题：{rng.choice(SKILLS)}。\n"
        f"教学反思\n{rng.choice(EFFECTS)}；{rng.choice(EFFECTS)}。今后需要进一步关注学生的个体差异。",
    ]


def generate_documents(count: int, school_ids: Sequence[str], seed: int) -> list[SearchDocument]:
    """count resources as search documents, with their pages and cues; the same for the same seed."""
    rng = random.Random(seed)
    subjects = list(SUBJECT_WEIGHTS)
    subject_weights = list(SUBJECT_WEIGHTS.values())
    types = list(RESOURCE_TYPES)
    type_weights = [RESOURCE_TYPES[name][0] for name in types]
    tags = list(TAGS)
    tag_weights = list(TAGS.values())
    teachers = {school: [make_uuid(rng) for _ in range(30)] for school in school_ids}
    researchers = [make_uuid(rng) for _ in range(10)]
    documents: list[SearchDocument] = []
    for _ in range(count):
        subject = rng.choices(subjects, subject_weights)[0]
        lesson = rng.choice(LESSONS[subject])
        grade = rng.randint(*lesson.grades)
        volume = rng.choice(HIGH_VOLUMES) if grade > 9 else rng.choice(("上册", "下册"))
        unit = f"第{CN[rng.randint(1, 8)]}单元"
        resource_type = rng.choices(types, type_weights)[0]
        _, words, has_pages, has_cues = RESOURCE_TYPES[resource_type]
        context = {
            "edition": rng.choice(EDITIONS[subject]),
            "grade": GRADE_LABELS[grade],
            "subject": subject,
            "volume": volume,
            "unit": unit,
        }
        school = rng.choice(school_ids) if rng.random() < 0.95 else None
        roll = rng.random()
        visibility = (
            "school" if roll < 0.45 else "district" if roll < 0.75 else "public" if roll < 0.95 else "private"
        )
        # More uploads lately: the density of created_at grows towards END.
        age = SPAN * (1 - rng.random() ** 0.7)
        resource_id = make_uuid(rng)
        common: dict[str, Any] = {
            "parent_id": resource_id,
            "title": title_for(rng, lesson.title, words, context),
            "stage": stage_for_grade(grade),
            "grade": str(grade),
            "subject": subject,
            "edition": context["edition"],
            "volume": volume,
            "unit": unit,
            "resource_type": resource_type,
            "tags": list(dict.fromkeys(rng.choices(tags, tag_weights, k=rng.choice((0, 1, 1, 2, 2, 3))))),
            "school_id": school,
            "owner_id": rng.choice(teachers[school] if school else researchers),
            "visibility": visibility,
            "status": "published" if rng.random() < 0.9 else "draft",
            "created_at": END - age,
            # Skewed: most resources are opened a few times, a few thousands of times.
            "popularity": int(rng.paretovariate(1.3) * 5) - 5,
        }
        body = "\n".join((description_for(rng, lesson.title, context), unit, lesson.title))
        documents.append(SearchDocument(id=resource_id, kind=DocKind.resource, body=body, **common))
        if has_pages and rng.random() < PAGES_SHARE:
            file_id = make_uuid(rng)
            for number, text in enumerate(page_texts(rng, lesson.title, context), start=1):
                documents.append(
                    SearchDocument(
                        id=f"{resource_id}/page/{file_id}/{number}",
                        kind=DocKind.file_page,
                        body=text,
                        page=number,
                        file_id=file_id,
                        **common,
                    )
                )
        if has_cues and rng.random() < CUES_SHARE:
            file_id = make_uuid(rng)
            start = rng.uniform(0, 60)
            for number in range(1, 6):
                line = rng.choice(CUE_LINES).format(lesson=lesson.title, page=rng.randint(5, 80))
                end = start + rng.uniform(2, 8)
                documents.append(
                    SearchDocument(
                        id=f"{resource_id}/cue/{file_id}/{number}",
                        kind=DocKind.video_cue,
                        body=line,
                        start_s=round(start, 2),
                        end_s=round(end, 2),
                        file_id=file_id,
                        **common,
                    )
                )
                start = end + rng.uniform(5, 120)
    return documents


async def batches(documents: Sequence[SearchDocument]) -> AsyncIterator[Sequence[SearchDocument]]:
    for start in range(0, len(documents), BATCH):
        yield documents[start : start + BATCH]


# -- queries -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuerySpec:
    category: str
    text: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: str = "relevance"

    def params(self) -> list[tuple[str, str | int | float | bool | None]]:
        """GET /api/v1/search parameters."""
        params: list[tuple[str, str | int | float | bool | None]] = [("q", self.text)] if self.text else []
        params += [(name, value) for name, values in self.filters.items() for value in values]
        if self.sort != "relevance":
            params.append(("sort", self.sort))
        return params

    def label(self) -> str:
        parts = [f"q={self.text}"] if self.text else []
        parts += [f"{name}={','.join(values)}" for name, values in self.filters.items()]
        if self.sort != "relevance":
            parts.append(f"sort={self.sort}")
        return " ".join(parts)


def make_queries(count: int, seed: int, own_school: str, forgiving: int = 0) -> list[QuerySpec]:
    """count queries in the CATEGORIES mix and `forgiving` more, shuffled; the same for the same seed."""
    rng = random.Random(seed)
    counts = {name: round(count * share / 100) for name, share in CATEGORIES.items()}
    counts["word"] += count - sum(counts.values())
    lessons = [lesson for group in LESSONS.values() for lesson in group]
    specs: list[QuerySpec] = []
    for category, number in counts.items():
        for _ in range(number):
            if category == "word":
                specs.append(QuerySpec(category, rng.choice(QUERY_WORDS)))
            elif category == "title":
                title = rng.choice(CHINESE_LESSONS)
                if rng.random() < 0.4:
                    title += " " + rng.choice(("课件", "教学设计", "说课稿", "教案", "微课"))
                specs.append(QuerySpec(category, title))
            elif category == "pinyin":
                specs.append(QuerySpec(category, full_pinyin(rng.choice(CHINESE_LESSONS))))
            elif category == "initials":
                specs.append(QuerySpec(category, initials(rng.choice(CHINESE_LESSONS))))
            elif category == "subject+text":
                subject = rng.choice(list(SUBJECT_QUERY_WORDS))
                text = rng.choice(SUBJECT_QUERY_WORDS[subject])
                specs.append(QuerySpec(category, text, {"subject": [subject]}))
            elif category == "filters only":
                lesson = rng.choice(lessons)
                filters = {"subject": [lesson.subject], "grade": [str(rng.randint(*lesson.grades))]}
                if rng.random() < 0.3:
                    filters["resource_type"] = [rng.choice(list(RESOURCE_TYPES))]
                specs.append(QuerySpec(category, "", filters))
            elif category == "newest":
                specs.append(QuerySpec(category, rng.choice(QUERY_WORDS), sort="newest"))
            else:
                specs.append(QuerySpec(category, rng.choice(QUERY_WORDS), {"school_id": [own_school]}))
    specs += forgiving_queries(rng, forgiving)
    rng.shuffle(specs)
    return specs


def forgiving_queries(rng: random.Random, count: int) -> list[QuerySpec]:
    """count queries in FORGIVING_CATEGORIES, from the lesson names: Traditional characters, fuzzy
    pinyin slips, half pinyin, a homophone typo, a curriculum position, a question."""
    s2t = opencc.OpenCC("s2t")
    pool: dict[str, list[str]] = {}
    for char in dict.fromkeys("".join(CHINESE_LESSONS)):
        pool.setdefault(syllables(char)[0], []).append(char)
    specs: list[QuerySpec] = []
    for number in range(count):
        category = FORGIVING_CATEGORIES[number % len(FORGIVING_CATEGORIES)]
        title = rng.choice(CHINESE_LESSONS)
        if category == "traditional":
            text = s2t.convert(title)
        elif category == "fuzzy":
            text = full_pinyin(title)
            for spelled, slip in rng.sample(_FUZZY_SLIPS, 2):
                text = text.replace(spelled, slip)
        elif category == "mixed":
            text = full_pinyin(title[:2]) + title[2:]
        elif category == "homophone":
            reading = syllables(title)
            position = rng.randrange(len(title))
            others = [char for char in pool[reading[position]] if char != title[position]]
            typo = rng.choice(others) if others else title[position]
            text = title[:position] + typo + title[position + 1 :]
        elif category == "curriculum":
            grade = rng.randint(1, 9)
            volume = rng.choice(("上册", "下册"))
            text = rng.choice(
                (
                    f"{GRADE_LABELS[grade]}{volume}第{CN[rng.randint(1, 8)]}单元",
                    f"人教版{CN[grade]}{volume[0]} {rng.choice(QUERY_WORDS)}",
                    f"{GRADE_LABELS[grade]}{volume} {rng.choice(QUERY_WORDS)}",
                )
            )
        else:
            question = rng.choice(("怎样教{}", "{}的教学方法", "如何上好{}这一课", "请问有没有{}的课件"))
            text = question.format(title)
        specs.append(QuerySpec(category, text))
    return specs


class CapturingIndex:
    """Stands in for the index behind the search service, to see the SearchQuery it builds."""

    def __init__(self) -> None:
        self.queries: list[SearchQuery] = []

    async def search(self, query: SearchQuery) -> SearchResult:
        self.queries.append(query)
        return SearchResult(total=0, hits=[], facets={})


async def search_queries(
    database_url: str, principal: Principal, specs: Sequence[QuerySpec]
) -> list[SearchQuery]:
    """The SearchQuery the API's search service builds for each spec, this principal and this database
    (its synonym groups), so the backends are handed exactly what the API hands them."""
    engine = create_engine(database_url, pool_size=1)
    capture = CapturingIndex()
    try:
        async with create_sessionmaker(engine)() as session:
            for spec in specs:
                request = search_service.SearchRequest(
                    text=spec.text, filters=spec.filters, sort=cast(Any, spec.sort)
                )
                await search_service.search(session, cast(SearchIndex, capture), principal, request)
    finally:
        await engine.dispose()
    return capture.queries


async def store_parents(
    database_url: str, documents: Sequence[SearchDocument], school_ids: Sequence[str]
) -> int:
    """The generated resources as database rows (with their owners, and their schools where the API
    did not make them), so the API's re-check of each page of hits finds what the index holds."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            existing = set((await session.scalars(select(School.id))).all())
            missing = [uuid.UUID(school) for school in school_ids if uuid.UUID(school) not in existing]
            if missing:
                await session.execute(
                    insert(School),
                    [{"id": school, "name": f"基准学校 {school.hex[:8]}"} for school in missing],
                )
            resources = [document for document in documents if document.kind == DocKind.resource]
            owners = {(document.owner_id, document.school_id) for document in resources}
            await session.execute(
                insert(User),
                [
                    {
                        "id": uuid.UUID(owner),
                        "username": f"bench-owner-{owner[:12]}",
                        "display_name": "基准教师",
                        "password_hash": "!",
                        "role": Role.teacher,
                        "school_id": uuid.UUID(school) if school else None,
                    }
                    for owner, school in dict(owners).items()
                ],
            )
            for start in range(0, len(resources), BATCH):
                await session.execute(
                    insert(Resource),
                    [
                        {
                            "id": uuid.UUID(document.parent_id),
                            "title": document.title,
                            "resource_type": ResourceType(document.resource_type),
                            "stage": document.stage,
                            "grade": int(document.grade) if document.grade else None,
                            "subject": document.subject,
                            "edition": document.edition,
                            "volume": document.volume,
                            "unit": document.unit,
                            "tags": document.tags,
                            "owner_id": uuid.UUID(document.owner_id),
                            "school_id": uuid.UUID(document.school_id) if document.school_id else None,
                            "visibility": Visibility(document.visibility),
                            "status": PublicationStatus(document.status),
                            "created_at": document.created_at,
                            "updated_at": document.created_at,
                        }
                        for document in resources[start : start + BATCH]
                    ],
                )
        return len(resources)
    finally:
        await engine.dispose()


# -- Elasticsearch -----------------------------------------------------------------------------------


class InstrumentedClient:
    """The official client, with the time spent in bulk() summed and the arguments of search() kept."""

    def __init__(self, client: AsyncElasticsearch) -> None:
        self.client = client
        self.bulk_seconds = 0.0
        self.searches: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    async def bulk(self, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await self.client.bulk(**kwargs)
        finally:
            self.bulk_seconds += time.perf_counter() - started

    async def search(self, **kwargs: Any) -> Any:
        self.searches.append(kwargs)
        return await self.client.search(**kwargs)


# -- timing ------------------------------------------------------------------------------------------


def process_cpu_ns(pid: int) -> int:
    """CPU time a process has used so far, all its threads, in nanoseconds (Linux schedstat).

    The API runs in a process of its own, so what it spends per request is the difference around
    each request; clock ticks (/proc/PID/stat) would be too coarse (10 ms) for one request."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue  # a thread that ended meanwhile
    return total


@dataclass
class Analysis:
    documents: int = 0
    words: float = 0.0  # jieba (search mode) on title and body
    chars: float = 0.0  # single characters / latin words on title and body
    pinyin: float = 0.0  # title pinyin, initials and fuzzy pinyin
    suggest: float = 0.0  # autocomplete keys (resources)
    source: float = 0.0  # the document as JSON, stored with it

    @property
    def analysis(self) -> float:
        return self.words + self.chars + self.pinyin + self.suggest

    def scaled(self, documents: int) -> Analysis:
        """These times as if measured on `documents` documents like the ones measured."""
        factor = documents / self.documents if self.documents else 0.0
        return Analysis(
            documents,
            self.words * factor,
            self.chars * factor,
            self.pinyin * factor,
            self.suggest * factor,
            self.source * factor,
        )


def time_analysis(documents: Iterable[SearchDocument]) -> Analysis:
    """The Python-side work both backends do per document, alone, in the order to_es_document does it."""
    result = Analysis()
    clock = time.perf_counter
    for document in documents:
        t0 = clock()
        words_field(document.title)
        words_field(document.body)
        t1 = clock()
        chars_field(document.title)
        chars_field(document.body)
        t2 = clock()
        pinyin_field(document.title)
        initials_field(document.title)
        fuzzy_field(document.title, DEFAULT_FUZZY)
        t3 = clock()
        if document.kind in SUGGEST_KINDS:
            suggest_keys(document.title)
        t4 = clock()
        document.model_dump(mode="json")
        t5 = clock()
        result.documents += 1
        result.words += t1 - t0
        result.chars += t2 - t1
        result.pinyin += t3 - t2
        result.suggest += t4 - t3
        result.source += t5 - t4
    return result


@dataclass
class Indexing:
    backend: str
    documents: int
    seconds: float
    transport_seconds: float | None = None  # awaiting bulk(): serialization, HTTP, Elasticsearch
    size_bytes: int = 0


@dataclass
class Latencies:
    name: str
    ms: list[float] = field(default_factory=list)
    by_category: dict[str, list[float]] = field(default_factory=dict)

    def add(self, category: str, ms: float) -> None:
        self.ms.append(ms)
        self.by_category.setdefault(category, []).append(ms)


def percentiles(values: Sequence[float]) -> tuple[float, float, float, float]:
    """p50, p95, p99 and mean."""
    if len(values) < 2:
        value = values[0] if values else float("nan")
        return value, value, value, value
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98], statistics.fmean(values)


# -- the run -----------------------------------------------------------------------------------------


@dataclass
class Setup:
    """Where the documents go and who asks: schools, the student, and the search paths to time."""

    school_ids: list[str]
    principal: Principal
    database_url: str
    server: BenchServer | None = None
    token: str = ""
    tenant: Tenant | None = None


def school_names(rng: random.Random) -> list[str]:
    names = [f"{place}{kind}" for place in SCHOOL_PLACES for kind in SCHOOL_KINDS]
    return rng.sample(names, SCHOOLS)


def start_es_setup(tenant: Tenant, workdir: Path, tag: str, seed: int) -> Setup:
    """Database, server, 50 schools and a student in one of them, through the API."""
    server = start_bench_server("es", workdir, tag, tenant)
    with httpx.Client(base_url=server.api.base_url, timeout=60) as client:
        auth = {"Authorization": f"Bearer {sign_in(client, server.admin)}"}
        school_ids = []
        for number, name in enumerate(school_names(random.Random(seed)), start=1):
            body = {"name": name, "code": f"bench-{number:02d}"}
            school_ids.append(expect(client.post("/api/v1/schools", json=body, headers=auth), 201)["id"])
        username = f"bench-student-{tag}"
        student = {
            "username": username,
            "display_name": "基准学生",
            "password": PASSWORD,
            "role": "student",
            "school_id": school_ids[STUDENT_SCHOOL],
        }
        user = expect(client.post("/api/v1/users", json=student, headers=auth), 201)
        token = sign_in(client, username)
    principal = Principal(
        user_id=uuid.UUID(user["id"]), role=Role.student, school_id=uuid.UUID(school_ids[STUDENT_SCHOOL])
    )
    return Setup(school_ids, principal, tenant.database_url, server, token, tenant)


async def embedded_only_setup(workdir: Path, seed: int) -> Setup:
    """No server: made-up school ids, and a SQLite database only for the search service's synonyms."""
    rng = random.Random(seed)
    school_ids = [make_uuid(rng) for _ in range(SCHOOLS)]
    database_url = f"sqlite+aiosqlite:///{workdir / 'jiaoyun.db'}"
    await upgrade_to_head_async(database_url)
    principal = Principal(
        user_id=uuid.UUID(make_uuid(rng)), role=Role.student, school_id=uuid.UUID(school_ids[STUDENT_SCHOOL])
    )
    return Setup(school_ids, principal, database_url)


async def build_es(client: InstrumentedClient, prefix: str, documents: Sequence[SearchDocument]) -> Indexing:
    index = ElasticsearchSearchIndex(cast(AsyncElasticsearch, client), prefix)
    client.bulk_seconds = 0.0
    started = time.perf_counter()
    written = await index.rebuild(batches(documents))
    seconds = time.perf_counter() - started
    stats = await client.client.indices.stats(index=index.alias, metric="store")
    size = int(stats["_all"]["primaries"]["store"]["size_in_bytes"])
    return Indexing("elasticsearch", written, seconds, client.bulk_seconds, size)


async def build_embedded(index: EmbeddedSearchIndex, documents: Sequence[SearchDocument]) -> Indexing:
    await index.ensure_ready()
    started = time.perf_counter()
    written = await index.rebuild(batches(documents))
    seconds = time.perf_counter() - started
    size = sum(path.stat().st_size for path in index.path.parent.glob(f"{index.path.name}*"))
    return Indexing("embedded", written, seconds, None, size)


@dataclass
class Measurements:
    api: Latencies = field(default_factory=lambda: Latencies("API (HTTP)"))
    raw: Latencies = field(default_factory=lambda: Latencies("raw ES"))
    took: Latencies = field(default_factory=lambda: Latencies("ES took"))
    embedded: Latencies = field(default_factory=lambda: Latencies("embedded"))
    # The embedded index keeping no text matches: every query pays its FTS5 match, as after a write.
    embedded_cold: Latencies = field(default_factory=lambda: Latencies("emb cold"))
    recheck: Latencies = field(default_factory=lambda: Latencies("re-check"))
    # CPU milliseconds: of the API process per request, of this process per embedded query.
    api_cpu: Latencies = field(default_factory=lambda: Latencies("API CPU"))
    embedded_cpu: Latencies = field(default_factory=lambda: Latencies("embedded CPU"))
    embedded_cold_cpu: Latencies = field(default_factory=lambda: Latencies("emb cold CPU"))
    rechecked_hits: int = 0
    recheck_dropped: int = 0
    # Per query: (spec, API total, ES backend total, embedded total)
    totals: list[tuple[QuerySpec, int | None, int | None, int | None]] = field(default_factory=list)


async def measure(
    setup: Setup,
    modes: Sequence[str],
    specs: Sequence[QuerySpec],
    queries: Sequence[SearchQuery],
    client: InstrumentedClient | None,
    prefix: str,
    embedded: EmbeddedSearchIndex | None,
    embedded_cold: EmbeddedSearchIndex | None = None,
) -> Measurements:
    """Each query through every path in turn (the path going first rotates), after WARMUP warm-ups.

    A preparing pass first runs each query once through the backends' own search(): it records the
    request body ElasticsearchSearchIndex sends (replayed as the raw query) and the totals. On the
    embedded side it runs on embedded_cold (the same file, keeping no text matches), so the timed
    index has not seen the queries before: it keeps matches only as the timed stream repeats words.
    """
    result = Measurements()
    es_index = ElasticsearchSearchIndex(cast(AsyncElasticsearch, client), prefix) if client else None
    bodies: list[list[dict[str, Any]]] = []
    pages: list[list[SearchHit]] = []
    for spec, query in zip(specs, queries, strict=True):
        es_total = embedded_total = None
        page: list[SearchHit] = []
        if es_index is not None and client is not None:
            client.searches.clear()
            found = await es_index.search(query)
            es_total, page = found.total, found.hits
            bodies.append(list(client.searches))
        if embedded is not None:
            found = await (embedded_cold or embedded).search(query)
            embedded_total, page = found.total, page or found.hits
        pages.append(page)
        result.totals.append((spec, None, es_total, embedded_total))
    recheck_engine = create_engine(setup.database_url)
    recheck_sessions = create_sessionmaker(recheck_engine)

    api = None
    if setup.server is not None:
        api = httpx.AsyncClient(
            base_url=setup.server.api.base_url, headers={"Authorization": f"Bearer {setup.token}"}, timeout=60
        )
    clock = time.perf_counter

    api_pid = setup.server.pid if setup.server is not None else 0

    async def run_api(number: int, spec: QuerySpec, record: bool) -> None:
        assert api is not None
        cpu = process_cpu_ns(api_pid)
        started = clock()
        response = await api.get("/api/v1/search", params=spec.params())
        elapsed = (clock() - started) * 1000
        cpu = process_cpu_ns(api_pid) - cpu
        body = expect(response, 200)
        if record:
            result.api.add(spec.category, elapsed)
            result.api_cpu.add(spec.category, cpu / 1e6)
            _, _, es_total, embedded_total = result.totals[number]
            result.totals[number] = (spec, int(body["total"]), es_total, embedded_total)

    async def run_raw(number: int, spec: QuerySpec, record: bool) -> None:
        assert client is not None
        took = 0
        started = clock()
        for call in bodies[number]:
            took += int((await client.client.search(**call))["took"])
        elapsed = (clock() - started) * 1000
        if record:
            result.raw.add(spec.category, elapsed)
            result.took.add(spec.category, float(took))

    def embedded_path(
        index: EmbeddedSearchIndex, latency: Latencies, cpu_time: Latencies
    ) -> Callable[[int, QuerySpec, bool], Any]:
        """Times one embedded index in-process: wall and CPU, into the given series."""

        async def run(number: int, spec: QuerySpec, record: bool) -> None:
            cpu = time.process_time()
            started = clock()
            await index.search(queries[number])
            elapsed = (clock() - started) * 1000
            cpu = time.process_time() - cpu
            if record:
                latency.add(spec.category, elapsed)
                cpu_time.add(spec.category, cpu * 1000)

        return run

    async def run_recheck(number: int, spec: QuerySpec, record: bool) -> None:
        started = clock()
        async with recheck_sessions() as session:
            kept = await search_service.still_readable(
                session,
                setup.principal,
                pages[number],
                lambda hit: (hit.kind, hit.document.parent_id),
                "hits",
            )
        elapsed = (clock() - started) * 1000
        if record:
            result.recheck.add(spec.category, elapsed)
            result.rechecked_hits += len(pages[number])
            result.recheck_dropped += len(pages[number]) - len(kept)

    paths: list[Callable[[int, QuerySpec, bool], Any]] = []
    if "es" in modes:
        paths += [run_api, run_raw]
    if "embedded" in modes:
        assert embedded is not None
        paths.append(embedded_path(embedded, result.embedded, result.embedded_cpu))
        if embedded_cold is not None:
            paths.append(embedded_path(embedded_cold, result.embedded_cold, result.embedded_cold_cpu))
    paths.append(run_recheck)
    try:
        order = [(number, False) for number in range(min(WARMUP, len(specs)))]
        order += [(number, True) for number in range(len(specs))]
        for turn, (number, record) in enumerate(order):
            rotation = turn % len(paths)
            for path in paths[rotation:] + paths[:rotation]:
                await path(number, specs[number], record)
            if record and (number + 1) % 100 == 0:
                progress(f"queries: {number + 1}/{len(specs)}")
    finally:
        if api is not None:
            await api.aclose()
        await recheck_engine.dispose()
    return result


def run(args: argparse.Namespace) -> str:
    modes = ["es", "embedded"] if args.mode == "both" else [args.mode]
    tag = uuid.uuid4().hex[:10]
    workdir = Path(tempfile.mkdtemp(prefix="jiaoyun-bench-search-"))
    tenant = Tenant(testinfra_servers(), tag, purpose="bench") if "es" in modes else None
    setup: Setup | None = None
    try:
        if tenant is not None:
            setup = start_es_setup(tenant, workdir, tag, args.seed)
        else:
            setup = asyncio.run(embedded_only_setup(workdir, args.seed))
        return asyncio.run(run_async(args, modes, setup, workdir))
    finally:
        if setup is not None and setup.server is not None:
            best_effort("stop the server", setup.server.api.stop)
        if tenant is not None:
            remove_tenant(tenant)
        shutil.rmtree(workdir, ignore_errors=True)


async def run_async(args: argparse.Namespace, modes: Sequence[str], setup: Setup, workdir: Path) -> str:
    started = time.perf_counter()
    documents = generate_documents(args.resources, setup.school_ids, args.seed)
    kinds = {kind: sum(1 for document in documents if document.kind == kind) for kind in DocKind}
    progress(f"generated {len(documents)} documents in {time.perf_counter() - started:.1f} s")
    words_field("预热")  # jieba loads its dictionary once, before anything is timed

    # Analysis alone on every n-th document, scaled up: over all of them it would add minutes to a
    # 100k run and say nothing more (the documents are generated alike).
    step = max(1, round(1 / args.analysis_sample))
    progress(f"timing the Python-side analysis alone (every {step}th document)")
    analysis = time_analysis(documents[::step]).scaled(len(documents))

    indexings: list[Indexing] = []
    client: InstrumentedClient | None = None
    embedded: EmbeddedSearchIndex | None = None
    embedded_cold: EmbeddedSearchIndex | None = None
    prefix = setup.tenant.index_prefix if setup.tenant is not None else ""
    try:
        if setup.tenant is not None:
            client = InstrumentedClient(
                # The API's client settings' serializer (orjson), so the raw path parses as fast as it does.
                AsyncElasticsearch(
                    setup.tenant.servers.elasticsearch_url, request_timeout=300, serializer=OrjsonSerializer()
                )
            )
            progress("indexing into Elasticsearch")
            indexings.append(await build_es(client, prefix, documents))
            progress(f"  {indexings[-1].seconds:.1f} s")
        if "embedded" in modes:
            embedded = EmbeddedSearchIndex(workdir / "embedded" / "search.db")
            progress("indexing into the embedded index")
            indexings.append(await build_embedded(embedded, documents))
            progress(f"  {indexings[-1].seconds:.1f} s")
            embedded_cold = EmbeddedSearchIndex(workdir / "embedded" / "search.db", text_matches_kept=0)
            await embedded_cold.ensure_ready()

        progress("writing the resources to the database (for the re-check of hits)")
        await store_parents(setup.database_url, documents, setup.school_ids)
        own_school = setup.school_ids[STUDENT_SCHOOL]
        own_documents = sum(1 for document in documents if document.school_id == own_school)
        specs = make_queries(args.queries, args.seed + 1, own_school, args.forgiving)
        queries = await search_queries(setup.database_url, setup.principal, specs)
        progress(f"timing {len(specs)} queries")
        measured = await measure(setup, modes, specs, queries, client, prefix, embedded, embedded_cold)
    finally:
        if client is not None:
            await client.client.close()
        if embedded is not None:
            await embedded.close()
        if embedded_cold is not None:
            await embedded_cold.close()

    header = (
        f"{args.resources} resources = {len(documents)} documents "
        f"({kinds[DocKind.resource]} resource, {kinds[DocKind.file_page]} file_page, "
        f"{kinds[DocKind.video_cue]} video_cue); student's school holds {own_documents}; "
        f"{os.cpu_count()} CPUs"
    )
    return "\n".join([header, "", report_indexing(indexings, analysis), "", report_queries(measured, args)])


# -- the same queries on older code: --compare-with ------------------------------------------------


def import_older_search(checkout: Path, workdir: Path) -> dict[str, Any]:
    """The `search` package of an older checkout, imported beside this one's as `older_search`."""
    package = workdir / "older" / "older_search"
    shutil.copytree(checkout / "search", package)
    for path in package.glob("*.py"):
        path.write_text(re.sub(r"\b(from|import) search\.", r"\1 older_search.", path.read_text()))
    sys.path.insert(0, str(package.parent))
    return {
        name: importlib.import_module(f"older_search.{name}") for name in ("documents", "embedded", "elastic")
    }


@dataclass
class Pair:
    """One path measured on older and on current code, queries alternating between the two."""

    name: str
    size_bytes: tuple[int, int] = (0, 0)
    ms: tuple[Latencies, Latencies] = field(default_factory=lambda: (Latencies("older"), Latencies("now")))


async def compare(args: argparse.Namespace, workdir: Path, older: dict[str, Any]) -> str:
    """Index size and query latency of this code against an older checkout's, in one process: the same
    documents into both, the same queries alternating between them (which goes first alternates too),
    so the load of a shared machine weighs on both alike."""
    rng = random.Random(args.seed)
    schools = [make_uuid(rng) for _ in range(SCHOOLS)]
    documents = generate_documents(args.resources, schools, args.seed)
    words_field("预热")
    specs = make_queries(args.queries, args.seed + 1, schools[STUDENT_SCHOOL], args.forgiving)
    access = AccessFilter(
        user_id=make_uuid(rng),
        school_id=schools[STUDENT_SCHOOL],
        published_visibilities=frozenset({"public", "district"}),
    )
    groups = default_synonym_groups()
    now_queries = [
        SearchQuery(
            text=spec.text,
            filters=search_service.normalized_filters(spec.filters),
            sort=spec.sort,  # type: ignore[arg-type]
            access=access,
            facets=list(search_service.SEARCH_FACETS),
            synonym_groups=groups,
            group_by_parent=True,
            forgiving=True,
        )
        for spec in specs
    ]
    older_fields = older["documents"].SearchQuery.model_fields
    older_queries = [
        older["documents"].SearchQuery(**{k: v for k, v in query.model_dump().items() if k in older_fields})
        for query in now_queries
    ]
    older_documents = [older["documents"].SearchDocument(**document.model_dump()) for document in documents]
    pairs: list[tuple[Pair, Any, Any]] = []
    client = None
    if args.mode in ("embedded", "both"):
        indexes = (
            older["embedded"].EmbeddedSearchIndex(workdir / "older.db"),
            EmbeddedSearchIndex(workdir / "now.db"),
        )
        sizes = []
        for index, docs in zip(indexes, (older_documents, documents), strict=True):
            progress(f"indexing into {index.path.name}")
            sizes.append((await build_embedded(index, docs)).size_bytes)
        pairs.append((Pair("embedded", (sizes[0], sizes[1])), *indexes))
    if args.mode in ("es", "both"):
        client = AsyncElasticsearch(testinfra_servers().elasticsearch_url, request_timeout=300)
        prefix = f"jiaoyun-bench-compare-{uuid.uuid4().hex[:8]}"
        es_indexes = (
            older["elastic"].ElasticsearchSearchIndex(client, f"{prefix}-older"),
            ElasticsearchSearchIndex(client, f"{prefix}-now"),
        )
        sizes = []
        for index, docs in zip(es_indexes, (older_documents, documents), strict=True):
            progress(f"indexing into {index.alias}")
            await index.ensure_ready()
            await index.rebuild(batches(docs))
            await client.indices.forcemerge(index=index.alias, max_num_segments=1)
            stats = await client.indices.stats(index=index.alias, metric="store")
            sizes.append(int(stats["_all"]["primaries"]["store"]["size_in_bytes"]))
        pairs.append((Pair("elasticsearch", (sizes[0], sizes[1])), *es_indexes))
    try:
        progress(f"timing {len(specs)} queries, alternating")
        clock = time.perf_counter
        for turn, number in enumerate([*range(min(WARMUP, len(specs))), *range(len(specs))]):
            record = turn >= min(WARMUP, len(specs))
            for pair, older_index, now_index in pairs:
                runs = [(0, older_index, older_queries[number]), (1, now_index, now_queries[number])]
                for side, index, query in runs if turn % 2 else runs[::-1]:
                    started = clock()
                    await index.search(query)
                    if record:
                        pair.ms[side].add(specs[number].category, (clock() - started) * 1000)
    finally:
        for _, older_index, now_index in pairs:
            if client is not None and isinstance(now_index, ElasticsearchSearchIndex):
                await older_index.drop_all()
                await now_index.drop_all()
            else:
                await older_index.close()
                await now_index.close()
        if client is not None:
            await client.close()
    lines = [
        f"{args.resources} resources = {len(documents)} documents; older code: {args.compare_with}; "
        f"{os.cpu_count()} CPUs",
        f"{'path':<15}{'size MiB':>18}{'ratio':>7}{'p50 ms (mix)':>18}{'ratio':>7}"
        f"{'mean ms (mix)':>18}{'ratio':>7}",
    ]
    for pair, _, _ in pairs:
        mixes = [
            [ms for category in CATEGORIES for ms in latencies.by_category.get(category, [])]
            for latencies in pair.ms
        ]
        p50 = [statistics.median(values) for values in mixes]
        mean = [statistics.mean(values) for values in mixes]
        size = [value / 2**20 for value in pair.size_bytes]
        lines.append(
            f"{pair.name:<15}{size[0]:>8.1f} → {size[1]:>6.1f}{size[1] / size[0]:>7.2f}"
            f"{p50[0]:>8.1f} → {p50[1]:>6.1f}{p50[1] / p50[0]:>7.2f}"
            f"{mean[0]:>8.1f} → {mean[1]:>6.1f}{mean[1] / mean[0]:>7.2f}"
        )
    lines += ["", "p50 ms by query category, older → now"]
    lines.append(f"{'category':<14}{'n':>4}" + "".join(f"{pair.name:>24}" for pair, _, _ in pairs))
    for category in (*CATEGORIES, *FORGIVING_CATEGORIES):
        cells = []
        for pair, _, _ in pairs:
            older_ms, now_ms = (latencies.by_category.get(category, []) for latencies in pair.ms)
            if not now_ms:
                break
            cells.append(f"{statistics.median(older_ms):>12.1f} → {statistics.median(now_ms):>8.1f}")
        if cells:
            count = len(pairs[0][0].ms[1].by_category[category])
            lines.append(f"{category:<14}{count:>4}" + "".join(f"{cell:>24}" for cell in cells))
    return "\n".join(lines)


# -- output ------------------------------------------------------------------------------------------


def report_indexing(indexings: Sequence[Indexing], analysis: Analysis) -> str:
    lines = [
        f"{'bulk indexing (rebuild)':<24}{'docs':>8}{'seconds':>9}{'docs/s':>9}"
        f"{'analysis share':>16}{'bulk() share':>14}{'size MiB':>10}"
    ]
    for row in indexings:
        share = f"{analysis.analysis / row.seconds:.0%}"
        transport = f"{row.transport_seconds / row.seconds:.0%}" if row.transport_seconds is not None else "-"
        lines.append(
            f"{row.backend:<24}{row.documents:>8}{row.seconds:>9.1f}{row.documents / row.seconds:>9.0f}"
            f"{share:>16}{transport:>14}{row.size_bytes / 2**20:>10.0f}"
        )
    lines.append(
        f"Python analysis alone: {analysis.analysis:.1f} s = "
        f"{analysis.documents / analysis.analysis:.0f} docs/s (jieba words {analysis.words:.1f} s, "
        f"chars {analysis.chars:.1f} s, pinyin+initials+fuzzy {analysis.pinyin:.1f} s, suggest keys "
        f"{analysis.suggest:.1f} s); source JSON dump {analysis.source:.1f} s"
    )
    return "\n".join(lines)


def report_queries(measured: Measurements, args: argparse.Namespace) -> str:
    wall = [
        latencies
        for latencies in (
            measured.api,
            measured.raw,
            measured.took,
            measured.embedded,
            measured.embedded_cold,
            measured.recheck,
        )
        if latencies.ms
    ]
    cpu = [
        latencies
        for latencies in (measured.api_cpu, measured.embedded_cpu, measured.embedded_cold_cpu)
        if latencies.ms
    ]
    paths = [*wall, *cpu]
    lines = [
        f"query latency, {args.queries} queries per path, sequential, after {WARMUP} warm-up queries",
        f"{'path':<32}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'mean ms':>9}",
    ]
    labels = {
        "API (HTTP)": "API GET /api/v1/search",
        "raw ES": "raw ES, same request body",
        "ES took": "  of which ES 'took'",
        "embedded": "embedded, in-process",
        "emb cold": "  same, keeping no matches",
        "re-check": "re-check of a page, DB",
        "API CPU": "CPU of the API process",
        "embedded CPU": "CPU of embedded, in-process",
        "emb cold CPU": "  same, keeping no matches",
    }
    for latencies in paths:
        p50, p95, p99, mean = percentiles(latencies.ms)
        lines.append(f"{labels[latencies.name]:<32}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}{mean:>9.1f}")
    if measured.recheck.ms:
        recheck = percentiles(measured.recheck.ms)
        share = ""
        if measured.api.ms:
            share = f", {recheck[0] / percentiles(measured.api.ms)[0]:.0%} of the API's p50"
        lines.append(
            f"re-check: one query per page of up to 20 hits ({measured.rechecked_hits} hits checked, "
            f"{measured.recheck_dropped} dropped){share}"
        )
    lines += ["", *goals(measured)]
    lines += ["", "p50 ms by query category"]
    lines.append(
        f"{'category':<14}{'n':>4}"
        + "".join(f"{latencies.name:>12}" for latencies in paths)
        + f"{'hits p50':>10}"
    )
    for category in (*CATEGORIES, *FORGIVING_CATEGORIES):
        counts = [latencies.by_category.get(category, []) for latencies in paths]
        if not counts[0]:
            continue
        totals = [
            next(total for total in (api, es, emb) if total is not None)
            for spec, api, es, emb in measured.totals
            if spec.category == category
        ]
        lines.append(
            f"{category:<14}{len(counts[0]):>4}"
            + "".join(f"{statistics.median(values):>12.1f}" for values in counts)
            + f"{statistics.median(totals):>10.0f}"
        )
    base_mix = [
        [ms for category in CATEGORIES for ms in latencies.by_category.get(category, [])]
        for latencies in paths
    ]
    lines.append(
        f"{'(mix above)':<14}{len(base_mix[0]):>4}"
        + "".join(f"{statistics.median(values):>12.1f}" for values in base_mix)
        + "  p50 of the CATEGORIES mix alone; means: "
        + " / ".join(f"{statistics.mean(values):.1f}" for values in base_mix)
    )
    lines.append(consistency(measured))
    return "\n".join(lines)


def goals(measured: Measurements) -> list[str]:
    """The ratios issue 19 sets goals for, all from this run."""
    lines = ["issue 19 goals, from this run's figures:"]
    raw = percentiles(measured.raw.ms) if measured.raw.ms else None
    if measured.api.ms and raw is not None:
        api = percentiles(measured.api.ms)
        lines.append(
            f"  API / raw ES:                 p50 {api[0] / raw[0]:.2f}x, p95 {api[1] / raw[1]:.2f}x, "
            f"mean {api[3] / raw[3]:.2f}x  (goal: p50 and p95 <= 1.15x)"
        )
        cpu = percentiles(measured.api_cpu.ms)
        took = percentiles(measured.took.ms)
        lines.append(
            f"  per search: API process CPU p50 {cpu[0]:.1f} ms, mean {cpu[3]:.1f} ms; "
            f"ES 'took' p50 {took[0]:.1f} ms, mean {took[3]:.1f} ms"
        )
    if measured.embedded.ms:
        embedded = percentiles(measured.embedded.ms)
        if raw is not None:
            lines.append(
                f"  embedded p95 / raw ES p95:    {embedded[1]:.1f} / {raw[1]:.1f} ms = "
                f"{embedded[1] / raw[1]:.2f}x  (goal <= 1x)"
            )
            if measured.embedded_cold.ms:
                cold = percentiles(measured.embedded_cold.ms)
                lines.append(
                    f"  same, keeping no matches:     {cold[1]:.1f} / {raw[1]:.1f} ms = "
                    f"{cold[1] / raw[1]:.2f}x"
                )
        for category, goal in (("filters only", "  (goal <= 30 ms)"), ("own school", "")):
            values = measured.embedded.by_category.get(category)
            if not values:
                continue
            cpu_values = measured.embedded_cpu.by_category.get(category, [])
            es = measured.raw.by_category.get(category)
            versus = f", raw ES {statistics.median(es):.1f} ms" if es else ""
            lines.append(
                f"  embedded {category + ' p50:':<21}{statistics.median(values):.1f} ms "
                f"(CPU {statistics.median(cpu_values):.1f} ms){versus}{goal}"
            )
    return lines


def consistency(measured: Measurements) -> str:
    """Whether every path counted the same hits; differences are listed, not asserted."""
    differing = [
        (spec, api, es, emb)
        for spec, api, es, emb in measured.totals
        if len({total for total in (api, es, emb) if total is not None}) > 1
    ]
    if not differing:
        return f"totals: the same on every path for all {len(measured.totals)} queries"
    lines = [f"totals differ on {len(differing)} of {len(measured.totals)} queries (API / ES / embedded):"]
    for spec, api, es, emb in differing[:5]:
        lines.append(f"  {spec.label()}: {api} / {es} / {emb}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--resources", type=int, default=100_000, help="resources to generate (default 100000)"
    )
    parser.add_argument("--queries", type=int, default=300, help="measured queries per path (default 300)")
    parser.add_argument("--mode", choices=["es", "embedded", "both"], default="both")
    parser.add_argument(
        "--forgiving",
        type=int,
        default=60,
        help="queries search forgives (traditional, fuzzy, mixed, homophone, curriculum, question), "
        "on top of --queries (default 60)",
    )
    parser.add_argument(
        "--analysis-sample",
        type=float,
        default=0.1,
        help="share of the documents the Python analysis is timed on alone, scaled up (default 0.1)",
    )
    parser.add_argument(
        "--seed", type=int, default=20261125, help="seed of the generated documents and queries"
    )
    parser.add_argument(
        "--compare-with",
        metavar="CHECKOUT",
        help="instead: index size and query latency against an older checkout's search package, both "
        "in this process with queries alternating (no API server; es mode needs Elasticsearch only)",
    )
    args = parser.parse_args()
    if args.resources < 1 or args.queries < 1:
        parser.error("--resources and --queries must be at least 1")
    if not 0 < args.analysis_sample <= 1:
        parser.error("--analysis-sample must be within (0, 1]")
    if args.compare_with:
        workdir = Path(tempfile.mkdtemp(prefix="jiaoyun-bench-compare-"))
        try:
            older = import_older_search(Path(args.compare_with).resolve(), workdir)
            print(asyncio.run(compare(args, workdir, older)))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return
    print(run(args))


if __name__ == "__main__":
    main()
