"""The command line passes --root and --task to the dataset loaders."""

from ecgssl.cli import main


def test_cli_root_errors_name_the_download_page(tmp_path, capsys):
    code = main(
        ["pretrain", "--dataset", "ludb", "--root", str(tmp_path / "none"), "--no-progress"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "ludb.csv" in err and "physionet.org/content/ludb" in err
    code = main(["pretrain", "--dataset", "ptbxl", "--root", str(tmp_path), "--task", "nope"])
    assert code == 2 and "task must be one of" in capsys.readouterr().err
