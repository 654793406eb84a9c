import pytest

from leanformer.errors import DataError, LeanformerError
from leanformer.tasks import TaskConfig, get_task


def generic(data_dir, **kw):
    return get_task(TaskConfig(name="generic", data_dir=str(data_dir), **kw))


def test_csv_pairs_with_custom_columns(tmp_path):
    (tmp_path / "train.csv").write_text('q,p,y\n"is it, really","yes it is",1\nno,"not really",0\n')
    (tmp_path / "val.csv").write_text("q,p,y\nmaybe,perhaps,1\n")
    t = generic(tmp_path, text_column="q", text_pair_column="p", label_column="y")
    assert t.label_names == ["0", "1"]
    assert [(e.pairs, e.label) for e in t.examples("train")] == [((("is it, really", "yes it is"),), 1),
                                                                  ((("no", "not really"),), 0)]
    assert len(t.examples("dev")) == 1  # val.* accepted as the dev split


def test_tsv_single_text_explicit_labels(tmp_path):
    (tmp_path / "train.tsv").write_text("text\tlabel\ngood film\tpos\nbad film\tneg\n")
    t = generic(tmp_path, labels=["neg", "pos", "neutral"])
    assert t.label_names == ["neg", "pos", "neutral"]
    assert [e.label for e in t.examples("train")] == [1, 0]
    assert t.examples("train")[0].pairs == (("good film", None),)


def test_jsonl_labels_discovered_sorted(toy_dataset):
    t = generic(toy_dataset)
    assert t.label_names == ["neg", "pos"]
    assert len(t.examples("train")) == 160


def test_label_not_in_explicit_set(tmp_path):
    (tmp_path / "train.tsv").write_text("text\tlabel\ngood\tpos\nmeh\tneutral\n")
    with pytest.raises(DataError, match=r"train\.tsv, line 3, field 'label': label 'neutral' is not in the label set"):
        generic(tmp_path, labels=["neg", "pos"]).examples("train")


def test_missing_column(tmp_path):
    (tmp_path / "train.csv").write_text("sentence,label\nhello,a\nbye,b\n")
    with pytest.raises(DataError, match=r"train\.csv, line 2, field 'text': missing required field \(have: label, sentence\)"):
        generic(tmp_path).examples("train")


def test_missing_label_in_train(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\nhello,a\nbye,\n")
    with pytest.raises(DataError, match=r"line 3, field 'label': missing label"):
        generic(tmp_path).examples("train")


def test_test_split_may_be_unlabelled(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\nhello,a\nbye,b\n")
    (tmp_path / "test.csv").write_text("text\nhi there\n")
    assert generic(tmp_path).examples("test")[0].label is None


def test_single_label_is_rejected(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\nhello,a\nbye,a\n")
    with pytest.raises(DataError, match="need at least 2 distinct labels"):
        generic(tmp_path).label_names


def test_missing_split_file_lists_expected_names(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\nhello,a\nbye,b\n")
    with pytest.raises(LeanformerError, match=r"no dev file in .*expected one of dev\{"):
        generic(tmp_path).examples("dev")


def test_unterminated_quote_is_an_error_not_a_new_label(tmp_path):
    (tmp_path / "train.csv").write_text('text,label\ngood film,positive\nfine film,"positive\nawful film,negative\n')
    with pytest.raises(DataError, match=r"train.csv, line 3: unterminated quoted field"):
        generic(tmp_path).examples("train")


def test_label_with_a_line_break_is_implausible(tmp_path):
    (tmp_path / "train.jsonl").write_text('{"text": "a", "label": "pos"}\n{"text": "b", "label": "neg\\nx"}\n')
    with pytest.raises(DataError, match=r"line 2, field 'label': implausible label"):
        generic(tmp_path).label_names


@pytest.mark.parametrize("split", ["train", "test"])
def test_empty_text_cell_is_an_error_in_every_split(tmp_path, split):
    (tmp_path / "train.csv").write_text("text,label\ngood,pos\nbad,neg\n")
    (tmp_path / "test.csv").write_text("text,label\ngood,\nbad,\n")
    path = tmp_path / f"{split}.csv"
    path.write_text(path.read_text() + ",\n" if split == "test" else path.read_text() + " ,neg\n")
    with pytest.raises(DataError, match=rf"{split}.csv, line 4, field 'text': empty text"):
        generic(tmp_path).examples(split)


def test_rows_without_an_id_get_their_zero_based_row_index(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\ngood,pos\nbad,neg\nfine,pos\n")
    assert [e.meta["idx"] for e in generic(tmp_path).examples("train")] == [0, 1, 2]
