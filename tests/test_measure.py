"""The peak-memory figure the hostile-input tests rely on is the command's, not the test process's."""
from tests.hostile import run_cli_measured


def test_peak_memory_is_the_commands_own_not_inherited_from_the_test_process():
    # Linux carries a parent's high-water RSS through fork and exec: a command forked straight from a
    # pytest process that had grown to 400 MB reported >= 400 MB, whatever it used itself.
    ballast = bytearray(400 * 1024 * 1024)
    ballast[::4096] = b"\x01" * len(ballast[::4096])
    run = run_cli_measured("--help")
    assert run.code == 0 and "Usage: portfolio" in run.out
    assert 5 < run.peak_mb < 150, run.peak_mb
    del ballast
