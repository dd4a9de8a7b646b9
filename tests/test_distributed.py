"""Data-parallel training (n2n_nograd/distributed.py): gloo processes on localhost give
the weights one process gives, step for step, and a failed process stops the run cleanly."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing

from n2n_nograd import cli, data
from n2n_nograd.distributed import DataParallel
from n2n_nograd.training import RunError, run_training

Model = pytest.importorskip("Miniproject_2.model").Model

# 29 pairs in batches of 7: 7, 7, 7, 7, 1. Two processes split a batch of 7 into 3 + 4
# (shares of unequal weight) and the last one into 0 + 1 (an empty share).
PAIRS, BATCH = 29, 7


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("world_size", [1, 2, 3, 5])
def test_shares_split_every_batch_exactly(world_size):
    for n in range(12):
        indices = list(range(100, 100 + n))
        shares = [DataParallel(rank, world_size).share(indices) for rank in range(world_size)]
        assert sum(shares, []) == indices
        assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_only_the_autograd_free_model_trains_in_parallel(tmp_path):
    with pytest.raises(RunError, match="--impl torch"):
        run_training(cli.model_class_for, "torch", tmp_path / "run", tmp_path, 1, {},
                     parallel=DataParallel(0, 2))


def pairs():
    generator = torch.Generator().manual_seed(1)
    return [torch.randint(0, 256, (PAIRS, 3, 8, 8), generator=generator, dtype=torch.uint8)
            for _ in range(2)]


def weights_after_each_step(data_parallel):
    """Two epochs of a small model; the weights after every optimizer step."""
    torch.manual_seed(0)
    model = Model(channels=(4, 8), batch_size=BATCH, seed=3)
    steps, step = [], model.optimizer.step

    def step_and_record():
        step()
        steps.append([tensor.clone() for tensor, _ in model.net.param()])

    model.optimizer.step = step_and_record
    model.train(*pairs(), 2, progress=False, data_parallel=data_parallel)
    return steps


def train_in_group(rank, world_size, port, out):
    """One process of a gloo group on localhost (run by torch.multiprocessing.spawn)."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world_size)
    try:
        torch.save(weights_after_each_step(DataParallel(rank, world_size)), Path(out) / f"{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_step_for_step(tmp_path, one_thread):
    torch.multiprocessing.spawn(train_in_group, args=(2, free_port(), str(tmp_path)), nprocs=2)
    ranks = [torch.load(tmp_path / f"{rank}.pt") for rank in range(2)]
    alone = weights_after_each_step(None)
    assert len(alone) == len(ranks[0]) == 2 * 5
    for step, expected in enumerate(alone):
        for first, second, one in zip(ranks[0][step], ranks[1][step], expected):
            assert torch.equal(first, second), f"the replicas differ after step {step + 1}"
            torch.testing.assert_close(first, one, msg=lambda m: f"step {step + 1}: {m}")


# --- torchrun, end to end ---------------------------------------------------

@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    data.build(out, n_train=120, n_val=20, seed=5)
    return out


def torchrun(*argv, **popen):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
               "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
               "-m", "n2n_nograd", "train", *map(str, argv)]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def weights(checkpoint):
    return torch.load(checkpoint, weights_only=True)["state_dict"]


@pytest.mark.slow
def test_torchrun_trains_resumes_and_matches_one_process(dataset, tmp_path, capsys):
    common = ["--data", str(dataset), "--batch-size", "10", "--subset", "95"]
    assert cli.main(["train", *common, "--epochs", "2", "--out", str(tmp_path / "one")]) == 0
    capsys.readouterr()

    parallel = tmp_path / "two"
    for extra in (["--epochs", "1"], ["--epochs", "2", "--resume"]):
        process = torchrun(*common, "--out", parallel, *extra)
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        assert out.count("final validation PSNR") == 1, "only process 0 reports"

    records = [json.loads(line) for line in (parallel / "metrics.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in records] == [1, 2]
    one, two = weights(tmp_path / "one" / "checkpoint.pkl"), weights(parallel / "checkpoint.pkl")
    for name in one:
        torch.testing.assert_close(two[name], one[name], msg=lambda m, name=name: f"{name}: {m}")


def worker_pids(launcher):
    """{rank: pid} of the processes a torchrun started (Linux /proc)."""
    children = " ".join(path.read_text() for path in Path(f"/proc/{launcher}/task").glob("*/children"))
    ranks = {}
    for pid in map(int, children.split()):
        environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        rank = [entry for entry in environment if entry.startswith(b"RANK=")]
        if rank:
            ranks[int(rank[0][5:])] = pid
    return ranks


@pytest.mark.slow
def test_a_killed_process_stops_the_run_and_keeps_the_checkpoint(dataset, tmp_path):
    run = tmp_path / "run"
    process = torchrun("--data", dataset, "--epochs", "1000", "--out", run)
    try:
        deadline = time.monotonic() + 120
        while not (run / "metrics.jsonl").is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (run / "metrics.jsonl").is_file(), "the run never finished an epoch"
        os.kill(worker_pids(process.pid)[1], signal.SIGKILL)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode != 0
    stopped = [line for line in err.splitlines() if line.startswith("n2n train: process 0 of 2")]
    assert stopped, err
    assert "checkpoint.pkl is left as it was" in stopped[0] and "--resume" in stopped[0]
    epochs = len((run / "metrics.jsonl").read_text().splitlines())
    model = Model()
    model.load_model(run / "checkpoint.pkl")
    # The lead may have been stopped between writing the checkpoint and its metrics line.
    assert epochs <= model.epochs_trained <= epochs + 1
