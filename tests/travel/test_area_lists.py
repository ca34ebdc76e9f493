"""Reading published lists: notices as they are pasted (sections, places written once,
levels at the end of a line, lifts, preamble and sign-off) and spreadsheets, with every line
that cannot be read reported with its number and reason."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from fangyi.core.tabular import ImportFileError
from fangyi.travel.area_lists import check, level_of, parse_area_file, parse_notice
from fangyi.travel.matching import ADD, LIFT

NOTICE = """关于调整全国疫情风险等级的通告
根据国务院联防联控机制有关要求，经研究决定，现将风险地区公布如下：
一、高风险地区（2个）：
1. 湖北省武汉市：江汉区花楼街道、江岸区一元街道
2. 北京市朝阳区望京街道望京西园三区
二、中风险地区（3个）
上海市：
浦东新区张江镇；闵行区七宝镇
广东省深圳市南山区粤海街道。
湖南省长沙市岳麓区 高风险
三、自4月20日起，以下地区调整为低风险地区：
四川省成都市锦江区
防范区：陕西省西安市雁塔区
特此通告。
XX省新冠肺炎疫情防控指挥部
2022年4月20日
"""


def lines_of(entries):
    return [(e.line, e.text, e.level, e.action) for e in entries]


def test_a_pasted_notice_gives_each_area_with_its_level_and_line():
    assert lines_of(parse_notice(NOTICE)) == [
        (4, "湖北省武汉市江汉区花楼街道", "high", ADD),
        (4, "湖北省武汉市江岸区一元街道", "high", ADD),
        (5, "北京市朝阳区望京街道望京西园三区", "high", ADD),
        (8, "上海市浦东新区张江镇", "medium", ADD),
        (8, "上海市闵行区七宝镇", "medium", ADD),
        (9, "广东省深圳市南山区粤海街道", "medium", ADD),  # names its own province
        (10, "湖南省长沙市岳麓区", "high", ADD),  # its own level
        (12, "四川省成都市锦江区", "low", LIFT),
        (13, "陕西省西安市雁塔区", "low", ADD),
    ]


@pytest.mark.django_db
def test_the_preview_resolves_every_area_of_the_notice():
    preview = check(parse_notice(NOTICE))
    assert preview.problems == []
    resolved = [(e.resolution.adcode, e.resolution.locality) for e in preview.entries]
    assert resolved[:3] == [
        ("420103", "花楼街道"),
        ("420102", "一元街道"),
        ("110105", "望京西园三区"),
    ]


def test_a_heading_with_a_place_and_2022_names_of_the_levels():
    text = (
        "湖北省武汉市中风险地区（2个）：江汉区花楼街道、武昌区\n"
        "封控区：吉林省长春市朝阳区\n"
        "管控区\n"
        "（一）辽宁省沈阳市和平区"
    )
    assert lines_of(parse_notice(text)) == [
        (1, "湖北省武汉市江汉区花楼街道", "medium", ADD),
        (1, "湖北省武汉市武昌区", "medium", ADD),
        (2, "吉林省长春市朝阳区", "high", ADD),
        (4, "辽宁省沈阳市和平区", "medium", ADD),
    ]


def test_a_lifting_section_and_lines_with_their_own_level_outside_any_section():
    text = (
        "湖北省武汉市江汉区花楼街道（中风险）\n"
        "广东省广州市天河区,低风险地区\n"
        "解除以下地区高风险区管控：\n"
        "天津市河西区、天津市南开区"
    )
    assert lines_of(parse_notice(text)) == [
        (1, "湖北省武汉市江汉区花楼街道", "medium", ADD),
        (2, "广东省广州市天河区", "low", ADD),
        (4, "天津市河西区", "high", LIFT),
        (4, "天津市南开区", "high", LIFT),
    ]


@pytest.mark.django_db
def test_unreadable_lines_are_problems_with_their_line_and_reason():
    text = "高风险地区：\n湖北省武汉市江汉区\n某某地方\n朝阳区望京\n湖北省武汉市江汉区\n上海市浦东"
    preview = check(parse_notice(text))
    assert [(p.line, p.text) for p in preview.problems] == [
        (3, "某某地方"),
        (4, "朝阳区望京"),
        (5, "湖北省武汉市江汉区"),
        (6, "上海市浦东"),  # not the whole of Shanghai
    ]
    reasons = [p.reason for p in preview.problems]
    assert "无法识别" in reasons[0] and "多处同名" in reasons[1] and "重复" in reasons[2]
    assert "“浦东”不是上海市下的区县" in reasons[3]
    assert [e.line for e in preview.entries] == [2]


def test_a_level_at_the_end_of_a_line_is_that_of_all_its_areas():
    text = (
        "浙江省杭州市：余杭区五常街道、西湖区 中风险地区。\n"
        "江苏省南京市玄武区（高风险）、江宁区 低风险"
    )
    assert lines_of(parse_notice(text)) == [
        (1, "浙江省杭州市余杭区五常街道", "medium", ADD),
        (1, "浙江省杭州市西湖区", "medium", ADD),
        (2, "江苏省南京市玄武区", "high", ADD),
        (2, "江宁区", "low", ADD),
    ]


@pytest.mark.parametrize(
    ("word", "level"),
    [
        ("高风险", "high"),
        ("高风险地区", "high"),
        ("封控区", "high"),
        ("中", "medium"),
        ("管控区", "medium"),
        ("防范区", "low"),
        ("low", "low"),
        ("很危险", None),
    ],
)
def test_level_words(word, level):
    assert level_of(word) == level


def csv_upload(text: str, encoding="utf-8-sig") -> SimpleUploadedFile:
    return SimpleUploadedFile("名单.csv", text.encode(encoding), content_type="text/csv")


@pytest.mark.django_db
def test_a_csv_file_in_gbk_with_an_action_column():
    upload = csv_upload(
        "地区,风险等级,操作\r\n"
        "湖北省武汉市江汉区花楼街道,高风险,新增\r\n"
        ",,\r\n"
        "四川省成都市锦江区,,解除\r\n"
        "江西省南昌市东湖区,,\r\n"
        "广东省深圳市,很危险,新增\r\n"
        "陕西省西安市雁塔区,中风险,调出\r\n",
        encoding="gb18030",
    )
    entries, problems = parse_area_file(upload)
    assert lines_of(entries) == [
        (2, "湖北省武汉市江汉区花楼街道", "high", ADD),
        (4, "四川省成都市锦江区", "", LIFT),
        (5, "江西省南昌市东湖区", "", ADD),
    ]
    assert [(p.line, p.text) for p in problems] == [(6, "广东省深圳市"), (7, "陕西省西安市雁塔区")]
    assert "很危险" in problems[0].reason and "调出" in problems[1].reason
    preview = check(entries, problems)  # an area to add needs a level
    assert [p.line for p in preview.problems] == [5, 6, 7]
    assert "未注明风险等级" in preview.problems[0].reason


@pytest.mark.django_db
def test_an_xlsx_file_with_other_headings():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["序号", "区域", "等级"])
    sheet.append([1, "湖北省武汉市江汉区", "中风险"])
    sheet.append([2, "北京市", "低风险"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    upload = SimpleUploadedFile("list.xlsx", buffer.getvalue())
    entries, problems = parse_area_file(upload)
    assert problems == []
    assert lines_of(entries) == [
        (2, "湖北省武汉市江汉区", "medium", ADD),
        (3, "北京市", "low", ADD),
    ]


def test_a_file_without_the_headings_is_refused_as_a_whole():
    with pytest.raises(ImportFileError) as refused:
        parse_area_file(csv_upload("名称,说明\r\n湖北省武汉市,高\r\n"))
    assert "风险等级" in str(refused.value.message)
