"""Datasets built from an evaluation (`pairs_from_evaluation`) and their `preference` export, on
SQLite and PostgreSQL: exact bytes, reproducibility, loading with Hugging Face `datasets`, the
join of the evaluation's items to the traces, and the builds refused."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from helpers.evaluations import (
    TRACE_IDS,
    export_bytes,
    record_evaluation,
    source_dataset,
    store_traces,
)
from tunix_rt.datasets.builder import build_dataset
from tunix_rt.datasets.export import export_etag
from tunix_rt.datasets.schema import DatasetBuildRequest, DatasetFilters
from tunix_rt.datasets.service import check_export
from tunix_rt.datasets.store import dataset_record, get_manifest
from tunix_rt.db.models import dataset_items_table as I
from tunix_rt.errors import ConflictError, InvalidInputError, NotFoundError

#: The items of the evaluation, in the source dataset's order (newest trace first): the model
#: got the second item (trace 2, 21 + 43) wrong.
ANSWERS = {TRACE_IDS[3]: "66", TRACE_IDS[2]: "64", TRACE_IDS[1]: "46", TRACE_IDS[0]: "42"}

# The preference export of the dataset built from that evaluation (EVALUATION_ID stands for the
# evaluation's id): trace 4 rejects a corrupted step (its tens column, 3 + 3, reads 5 + 3),
# traces 3 and 1 a corrupted answer, trace 2 the model's own wrong completion.
GOLDEN = (
    r'{"prompt":"<start_of_turn>user\nWhat is 33 + 33?<end_of_turn>\n<start_of_turn>model\n",'
    r'"chosen":"Reasoning:\n1. Ones: 3 + 3 + carry 0 = 6, write 6, carry 0.\n'
    r'2. Tens: 3 + 3 + carry 0 = 6, write 6, carry 0.\nAnswer: 66<end_of_turn>\n",'
    r'"rejected":"Reasoning:\n1. Ones: 3 + 3 + carry 0 = 6, write 6, carry 0.\n'
    r'2. Tens: 5 + 3 + carry 0 = 6, write 6, carry 0.\nAnswer: 66<end_of_turn>\n",'
    r'"metadata":{"trace_id":"00000000-0000-4000-8000-000000000004","source":"pairs",'
    r'"meta_json":"{\"expected_answer\":\"66\",\"source\":\"pairs\"}","expected_answer":"66",'
    r'"rejected_source":"corrupted_step","evaluation_id":null,"eval_index":null,'
    r'"corrupted_step":2}}'
    "\n"
    r'{"prompt":"<start_of_turn>user\nWhat is 50 + 14?<end_of_turn>\n<start_of_turn>model\n",'
    r'"chosen":"Reasoning:\n1. Ones: 0 + 4 + carry 0 = 4, write 4, carry 0.\n'
    r'2. Tens: 5 + 1 + carry 0 = 6, write 6, carry 0.\nAnswer: 64<end_of_turn>\n",'
    r'"rejected":"Reasoning:\n1. Ones: 0 + 4 + carry 0 = 4, write 4, carry 0.\n'
    r'2. Tens: 5 + 1 + carry 0 = 6, write 6, carry 0.\nAnswer: 60<end_of_turn>\n",'
    r'"metadata":{"trace_id":"00000000-0000-4000-8000-000000000003","source":"pairs",'
    r'"meta_json":"{\"expected_answer\":\"64\",\"source\":\"pairs\"}","expected_answer":"64",'
    r'"rejected_source":"corrupted_answer","evaluation_id":null,"eval_index":null,'
    r'"corrupted_step":null}}'
    "\n"
    r'{"prompt":"<start_of_turn>user\nWhat is 21 + 43?<end_of_turn>\n<start_of_turn>model\n",'
    r'"chosen":"Reasoning:\n1. Ones: 1 + 3 + carry 0 = 4, write 4, carry 0.\n'
    r'2. Tens: 2 + 4 + carry 0 = 6, write 6, carry 0.\nAnswer: 64<end_of_turn>\n",'
    r'"rejected":"Reasoning:\n1. Add the ones.\n2. Add the tens.\nAnswer: 46<end_of_turn>\n",'
    r'"metadata":{"trace_id":"00000000-0000-4000-8000-000000000002","source":"pairs",'
    r'"meta_json":"{\"expected_answer\":\"64\",\"source\":\"pairs\"}","expected_answer":"64",'
    r'"rejected_source":"evaluation","evaluation_id":"EVALUATION_ID","eval_index":2,'
    r'"corrupted_step":null}}'
    "\n"
    r'{"prompt":"<start_of_turn>user\nWhat is 12 + 30?<end_of_turn>\n<start_of_turn>model\n",'
    r'"chosen":"Reasoning:\n1. Ones: 2 + 0 + carry 0 = 2, write 2, carry 0.\n'
    r'2. Tens: 1 + 3 + carry 0 = 4, write 4, carry 0.\nAnswer: 42<end_of_turn>\n",'
    r'"rejected":"Reasoning:\n1. Ones: 2 + 0 + carry 0 = 2, write 2, carry 0.\n'
    r'2. Tens: 1 + 3 + carry 0 = 4, write 4, carry 0.\nAnswer: 45<end_of_turn>\n",'
    r'"metadata":{"trace_id":"00000000-0000-4000-8000-000000000001","source":"pairs",'
    r'"meta_json":"{\"expected_answer\":\"42\",\"source\":\"pairs\"}","expected_answer":"42",'
    r'"rejected_source":"corrupted_answer","evaluation_id":null,"eval_index":null,'
    r'"corrupted_step":null}}'
    "\n"
)


def pairs_request(
    evaluation_id: uuid.UUID, *, version: str = "1", only_wrong: bool = False, **fields: object
) -> DatasetBuildRequest:
    return DatasetBuildRequest.model_validate(
        {
            "dataset_name": "pairs",
            "dataset_version": version,
            "pairs_from_evaluation": {"evaluation_id": evaluation_id, "only_wrong": only_wrong},
            **fields,
        }
    )


async def evaluated(engine: AsyncEngine, data_dir: Path) -> uuid.UUID:
    """The stored traces, dataset `src-1` of them, and a succeeded evaluation of it."""
    await store_traces(engine)
    key = await source_dataset(engine, data_dir)
    return await record_evaluation(engine, key, ANSWERS)


async def test_preference_export_is_exact_and_reproducible(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    evaluation_id = await evaluated(engine, tmp_path)
    built = await build_dataset(engine, tmp_path, pairs_request(evaluation_id))
    assert (built.trace_count, built.evaluation_wrong) == (4, 1)
    golden = GOLDEN.replace("EVALUATION_ID", str(evaluation_id)).encode()
    first = await export_bytes(engine, "pairs-1")
    assert first == golden
    assert await export_bytes(engine, "pairs-1") == first
    # Built again from the same evaluation, the same traces give the same bytes.
    again = await build_dataset(engine, tmp_path, pairs_request(evaluation_id, version="2"))
    assert again.trace_count == 4
    assert await export_bytes(engine, "pairs-2") == first

    async with engine.connect() as conn:
        manifest = await get_manifest(conn, "pairs-1")
        items = (
            await conn.execute(
                select(I.c.position, I.c.eval_idx)
                .where(I.c.dataset_key == "pairs-1")
                .order_by(I.c.position)
            )
        ).all()
    assert manifest.pairs_from_evaluation is not None
    assert manifest.pairs_from_evaluation.model_dump(mode="json") == {
        "evaluation_id": str(evaluation_id),
        "only_wrong": False,
        "wrong": 1,
    }
    assert manifest.trace_ids == [TRACE_IDS[3], TRACE_IDS[2], TRACE_IDS[1], TRACE_IDS[0]]
    assert [tuple(row) for row in items] == [(0, 0), (1, 1), (2, 2), (3, 3)]
    file = orjson.loads(Path(built.manifest_path).read_bytes())  # noqa: ASYNC240
    assert file["pairs_from_evaluation"] == {
        "evaluation_id": str(evaluation_id),
        "only_wrong": False,
        "wrong": 1,
    }


async def test_prompt_and_chosen_are_the_tunix_sft_prompt_and_completion(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    evaluation_id = await evaluated(engine, tmp_path)
    await build_dataset(engine, tmp_path, pairs_request(evaluation_id))
    for system in (None, "Answer carefully."):
        pairs = (await export_bytes(engine, "pairs-1", system=system)).splitlines()
        sft = (await export_bytes(engine, "pairs-1", "tunix_sft", system=system)).splitlines()
        assert len(pairs) == len(sft) == 4
        for pair_line, sft_line in zip(pairs, sft, strict=True):
            pair, example = orjson.loads(pair_line), orjson.loads(sft_line)
            assert (pair["prompt"], pair["chosen"]) == (example["prompt"], example["completion"])
            assert pair["rejected"].endswith("<end_of_turn>\n")
            assert pair["rejected"] != pair["chosen"]


async def test_only_wrong_takes_the_traces_the_model_got_wrong(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    evaluation_id = await evaluated(engine, tmp_path)
    built = await build_dataset(engine, tmp_path, pairs_request(evaluation_id, only_wrong=True))
    assert (built.trace_count, built.evaluation_wrong, built.matching_count) == (1, 1, 1)
    (line,) = (await export_bytes(engine, "pairs-1")).splitlines(keepends=True)
    golden = GOLDEN.replace("EVALUATION_ID", str(evaluation_id)).encode()
    assert line == golden.splitlines(keepends=True)[2]
    async with engine.connect() as conn:
        manifest = await get_manifest(conn, "pairs-1")
    assert manifest.trace_ids == [TRACE_IDS[1]]
    assert manifest.pairs_from_evaluation is not None
    assert manifest.pairs_from_evaluation.only_wrong is True


async def test_the_filters_splits_and_limit_still_apply(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    evaluation_id = await evaluated(engine, tmp_path)
    # One more trace of the same source, which the evaluation did not score: never taken.
    await build_dataset(
        engine,
        tmp_path,
        pairs_request(
            evaluation_id,
            filters=DatasetFilters(prompt_contains="+ 4"),  # 21 + 43 only
        ),
    )
    async with engine.connect() as conn:
        assert (await get_manifest(conn, "pairs-1")).trace_ids == [TRACE_IDS[1]]
    built = await build_dataset(
        engine,
        tmp_path,
        pairs_request(
            evaluation_id,
            version="2",
            limit=3,
            selection_strategy="random",
            seed=5,
            splits={"train": 0.67, "val": 0.33},
        ),
    )
    assert (built.trace_count, built.matching_count) == (3, 4)
    async with engine.connect() as conn:
        manifest = await get_manifest(conn, "pairs-2")
    assert manifest.stats.split_counts == {"train": 2, "val": 1}
    lines = (await export_bytes(engine, "pairs-2")).splitlines()
    train = (await export_bytes(engine, "pairs-2", split="train")).splitlines()
    assert len(lines) == 3 and len(train) == 2 and set(train) <= set(lines)
    by_trace = {orjson.loads(line)["metadata"]["trace_id"]: line for line in lines}
    assert set(by_trace) == {str(trace_id) for trace_id in manifest.trace_ids}
    golden = GOLDEN.replace("EVALUATION_ID", str(evaluation_id)).encode().splitlines()
    for line in golden:  # each trace's record is the same as in the whole dataset's export
        trace_id = orjson.loads(line)["metadata"]["trace_id"]
        if trace_id in by_trace:
            assert by_trace[trace_id] == line


async def test_a_dataset_without_an_evaluation_rejects_corrupted_traces(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await evaluated(engine, tmp_path)
    lines = (await export_bytes(engine, "src-1")).splitlines()
    sources = [orjson.loads(line)["metadata"]["rejected_source"] for line in lines]
    assert sources == ["corrupted_step", "corrupted_answer", "corrupted_step", "corrupted_answer"]
    golden = GOLDEN.encode().splitlines()
    assert [lines[0], lines[1], lines[3]] == [golden[0], golden[1], golden[3]]
    third = orjson.loads(lines[2])
    assert third["rejected"] == (
        "Reasoning:\n1. Ones: 1 + 3 + carry 0 = 4, write 4, carry 0.\n"
        "2. Tens: 0 + 4 + carry 0 = 6, write 6, carry 0.\nAnswer: 64<end_of_turn>\n"
    )
    assert third["metadata"]["corrupted_step"] == 2
    # The other formats of a dataset built from an evaluation are those of any dataset.
    evaluation_id = await record_evaluation(engine, "src-1", ANSWERS)
    await build_dataset(engine, tmp_path, pairs_request(evaluation_id))
    for fmt in ("trace", "tunix_sft", "stepwise"):
        assert await export_bytes(engine, "pairs-1", fmt) == await export_bytes(
            engine, "src-1", fmt
        )


async def test_the_preference_etag_names_the_evaluation(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    evaluation_id = await evaluated(engine, tmp_path)
    await build_dataset(engine, tmp_path, pairs_request(evaluation_id))
    async with engine.connect() as conn:
        record = await dataset_record(conn, "pairs-1")
    sha, build = record["export_sha256"], str(record["build_id"])
    check = await check_export(engine, "pairs-1", "preference", None, None)
    assert check == (export_etag(sha, build, "preference", None, None, str(evaluation_id)), 4)
    assert check.etag != export_etag(sha, build, "preference", None, None)
    sft = await check_export(engine, "pairs-1", "tunix_sft", None, None)
    assert sft.etag == export_etag(sha, build, "tunix_sft", None, None)


async def test_loads_with_hf_datasets(engine: AsyncEngine, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    evaluation_id = await evaluated(engine, tmp_path)
    await build_dataset(engine, tmp_path, pairs_request(evaluation_id))
    path = tmp_path / "preference.jsonl"
    path.write_bytes(await export_bytes(engine, "pairs-1"))
    loaded = datasets.load_dataset(
        "json", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf-cache")
    )
    assert loaded.column_names == ["prompt", "chosen", "rejected", "metadata"]
    assert loaded.num_rows == 4
    assert loaded.to_list() == [json.loads(line) for line in path.read_bytes().splitlines()]
    assert [row["rejected_source"] for row in loaded["metadata"]] == [
        "corrupted_step",
        "corrupted_answer",
        "evaluation",
        "corrupted_answer",
    ]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("queued", "is queued: only a succeeded evaluation's items can be paired"),
        ("failed", "is failed: only a succeeded evaluation's items can be paired"),
        ("cancelled", "is cancelled: only a succeeded evaluation's items can be paired"),
    ],
)
async def test_an_evaluation_that_has_not_succeeded_is_refused(
    engine: AsyncEngine, tmp_path: Path, status: str, message: str
) -> None:
    await store_traces(engine)
    key = await source_dataset(engine, tmp_path)
    evaluation_id = await record_evaluation(engine, key, ANSWERS, status=status)  # type: ignore[arg-type]
    with pytest.raises(ConflictError) as raised:
        await build_dataset(engine, tmp_path, pairs_request(evaluation_id))
    assert str(raised.value) == f"evaluation {evaluation_id} {message}"
    assert raised.value.loc == ("pairs_from_evaluation", "evaluation_id")
    assert not (tmp_path / "datasets" / "pairs-1").exists()


async def test_unknown_and_eval_set_evaluations_are_refused(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await store_traces(engine)
    key = await source_dataset(engine, tmp_path)
    unknown = uuid.UUID(int=7)
    with pytest.raises(NotFoundError) as missing:
        await build_dataset(engine, tmp_path, pairs_request(unknown))
    assert str(missing.value) == f"evaluation {unknown} not found"
    assert missing.value.loc == ("pairs_from_evaluation", "evaluation_id")
    held_out = await record_evaluation(engine, key, ANSWERS, evalset=True)
    with pytest.raises(InvalidInputError) as refused:
        await build_dataset(engine, tmp_path, pairs_request(held_out))
    assert str(refused.value) == (
        f"evaluation {held_out} is of the eval set arithmetic-add-sub-v1, whose items are not "
        "stored traces and must stay unseen by training; evaluate a dataset (or its train "
        "split) and pair from that evaluation instead"
    )
    assert refused.value.loc == ("pairs_from_evaluation", "evaluation_id")


async def test_an_evaluation_the_filters_leave_nothing_of(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    evaluation_id = await evaluated(engine, tmp_path)
    with pytest.raises(InvalidInputError) as refused:
        await build_dataset(
            engine,
            tmp_path,
            pairs_request(
                evaluation_id, only_wrong=True, filters=DatasetFilters(prompt_contains="33")
            ),
        )
    assert str(refused.value) == (
        f"no trace of those evaluation {evaluation_id} scored wrong matches the filters"
    )


async def test_the_preference_export_is_refused_once_its_evaluation_is_gone(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    from sqlalchemy import delete

    from tunix_rt.db.models import evaluation_items_table as EI
    from tunix_rt.db.models import evaluations_table as E

    evaluation_id = await evaluated(engine, tmp_path)
    await build_dataset(engine, tmp_path, pairs_request(evaluation_id))
    async with engine.begin() as conn:
        await conn.execute(delete(EI).where(EI.c.evaluation_id == evaluation_id))
        await conn.execute(delete(E).where(E.c.id == evaluation_id))
    with pytest.raises(ConflictError) as refused:
        await check_export(engine, "pairs-1", "preference", None, None)
    assert str(refused.value) == (
        f"dataset pairs-1 pairs the outputs of evaluation {evaluation_id}, which no longer "
        "exists: its preference export cannot be made again"
    )
    assert (await check_export(engine, "pairs-1", "tunix_sft", None, None)).records == 4
