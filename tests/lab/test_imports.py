"""Reading labs' result files: the mapping, the values people write, and every bad line
reported with the file's own column name; nothing stored from a file with a bad line."""

import gc
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from fangyi.core.tabular import ImportFileError, collection_paused
from fangyi.lab import imports
from fangyi.lab.models import ColumnMapping, ResultImport, Sample

HEADER = "样本编号,检测结果,报告时间,ORF1ab基因Ct值,N基因Ct值,检测方法,审核人\n"


def csv_file(lines: list[str], encoding="utf-8", name="results.csv"):
    return SimpleUploadedFile(name, (HEADER + "".join(lines)).encode(encoding))


def when(hours_ago=0) -> str:
    return timezone.localtime(timezone.now() - timedelta(hours=hours_ago)).strftime(
        "%Y-%m-%d %H:%M:%S"
    )


def test_headings_are_guessed_and_remembered_per_lab(lab):
    upload = csv_file([])
    headings = imports.headings_of(upload)
    mapping = imports.mapping_for(lab, headings)
    assert mapping["barcode"] == "样本编号" and mapping["ct:ORF1ab"] == "ORF1ab基因Ct值"
    custom = dict(mapping, reviewer="")
    ColumnMapping.objects.create(lab=lab, columns=custom)
    assert imports.mapping_for(lab, headings) == custom


def test_a_gbk_file_with_the_usual_words_is_stored(lab, collect, residents):
    people = residents("street_b", 3)
    tubes = [collect([p], hours_ago=5) for p in people]
    lines = [
        f"{tubes[0].barcode.lower()},阴性,{when(1)},,,荧光定量 PCR,张三\n",
        f"{tubes[1].barcode},阳性(+),{when(1).replace('-', '/')},28.5,27,pcr,张三\n",
        f"{tubes[2].barcode},无效,{when(1)},,,,\n",
        ",,,,,,\n",  # blank lines are skipped
    ]
    upload = csv_file(lines, encoding="gb18030")
    mapping = imports.guess_mapping(imports.headings_of(upload))
    log = imports.import_file(None, lab, upload, mapping)
    assert log.outcome == ResultImport.Outcome.SAVED, log.problems
    assert (log.rows, log.stored, log.positives) == (3, 3, 1)
    positive = Sample.objects.get(pk=tubes[1].pk)
    assert positive.ct_values == {"ORF1ab": 28.5, "N": 27.0}
    assert ColumnMapping.objects.get(lab=lab).columns == mapping
    again = imports.import_file(None, lab, csv_file(lines, encoding="gb18030"), mapping)
    assert (again.stored, again.unchanged, again.positives) == (0, 3, 0)


def test_every_bad_line_is_reported_with_its_column_and_nothing_is_stored(lab, collect, residents):
    tubes = [collect([p], hours_ago=5) for p in residents("street_b", 4)]
    lines = [
        f"{tubes[0].barcode},阴性,{when(1)},,,,\n",  # line 2: fine
        f"{tubes[1].barcode},弱阳,{when(1)},,,,\n",  # line 3: bad result
        f"{tubes[2].barcode},阴性,昨天,,,,\n",  # line 4: bad time
        f"{tubes[3].barcode},阳性,{when(1)},abc,,,\n",  # line 5: bad Ct
        f"XX99999999,阴性,{when(1)},,,,\n",  # line 6: unknown tube
    ]
    upload = csv_file(lines)
    log = imports.import_file(None, lab, upload, imports.guess_mapping(imports.headings_of(upload)))
    assert log.outcome == ResultImport.Outcome.REJECTED
    assert [(p["line"], p["column"]) for p in log.problems] == [
        (3, "检测结果"),
        (4, "报告时间"),
        (5, "ORF1ab基因Ct值"),
        (6, "样本编号"),
    ]
    assert log.rejected == 4
    assert not Sample.objects.filter(pk__in=[t.pk for t in tubes], result__isnull=False).exists()


def test_a_json_batch_follows_the_same_rules(lab, collect, residents):
    tube = collect(residents("street_b", 1), hours_ago=5)
    items = [
        {
            "barcode": tube.barcode,
            "result": "negative",
            "result_at": when(1),
            "ct_values": {"N": 33.3},
        },
        {"barcode": "", "result": "positive", "result_at": when(1)},
    ]
    log = imports.import_batch(None, lab, items)
    assert log.outcome == ResultImport.Outcome.REJECTED
    assert log.problems[0]["line"] == 2 and log.problems[0]["column"] == "barcode"
    log = imports.import_batch(None, lab, items[:1])
    assert log.stored == 1 and Sample.objects.get(pk=tube.pk).ct_values == {"N": 33.3}


def test_reading_leaves_the_garbage_collector_on_even_when_the_file_is_refused():
    """Reading pauses the collector for speed; it must come back on whatever happens."""
    mapping = {"barcode": "样本编号", "result": "检测结果", "result_at": "报告时间"}
    imports.parse_file(csv_file([f"T1,阴性,{when()},,,,\n"]), mapping)
    assert gc.isenabled()
    with pytest.raises(ImportFileError):
        imports.parse_file(csv_file([]), mapping)  # no data lines
    assert gc.isenabled()
    with pytest.raises(ValueError), collection_paused():
        assert not gc.isenabled()
        raise ValueError
    assert gc.isenabled()
