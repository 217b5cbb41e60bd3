"""Single-process pieces of distributed training: launch detection, the sharded batch order,
the per-epoch reshuffle of a DistributedSampler, and the no-op paths outside a launch."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from ecgssl.methods.gather import gather_with_grad
from ecgssl.registry import ENCODERS, METHODS
from ecgssl.training import PretrainConfig, Pretrainer
from ecgssl.training.batches import LoaderBatches, TensorBatches
from ecgssl.training.distributed import (
    DistEnv,
    all_ranks_true,
    detect_launch,
    is_main_process,
    mean_over_ranks,
    replicas_agree,
    world_size,
)
from ecgssl.training.pretrainer import _augment_seed

TORCHRUN = {"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "10.0.0.1",
            "MASTER_PORT": "29500"}  # fmt: skip


def test_detect_launch_reads_torchrun_variables():
    assert detect_launch({}) is None
    assert detect_launch({**TORCHRUN, "WORLD_SIZE": "1", "RANK": "0"}) is None
    assert detect_launch(TORCHRUN) == DistEnv(rank=1, world_size=4, local_rank=1)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"RANK": "4"}, "do not fit"),
        ({"RANK": "x"}, "invalid"),
        ({"MASTER_ADDR": None}, "MASTER_ADDR"),
    ],
)
def test_detect_launch_refuses_inconsistent_variables(change, match):
    env = {k: v for k, v in {**TORCHRUN, **change}.items() if v is not None}
    with pytest.raises(ValueError, match=match):
        detect_launch(env)


def _records(n: int) -> torch.Tensor:
    return torch.arange(n, dtype=torch.float32).view(n, 1, 1).expand(n, 2, 8).contiguous()


@pytest.mark.parametrize(("n", "batch", "world", "drop_last"),
                         [(24, 8, 2, True), (26, 8, 4, True), (28, 8, 2, False)])  # fmt: skip
def test_sharded_batches_union_is_the_one_process_batch_every_epoch(n, batch, world, drop_last):
    one = TensorBatches(_records(n), batch, drop_last, seed=3)
    ranks = [TensorBatches(_records(n), batch, drop_last, seed=3) for _ in range(world)]
    for r, b in enumerate(ranks):
        b.shard(r, world)
        assert len(b) == len(one)  # same number of steps on every rank
    orders = []
    for _epoch in range(2):
        expected = [x[:, 0, 0] for x, _ in one.epoch()]
        per_rank = [[x[:, 0, 0] for x, _ in b.epoch()] for b in ranks]
        for k, global_batch in enumerate(expected):
            shards = [per_rank[r][k] for r in range(world)]
            assert len({s.numel() for s in shards}) == 1  # equal shards
            assert torch.equal(torch.cat(shards), global_batch)
        orders.append(torch.cat(expected))
    assert not torch.equal(orders[0], orders[1])  # reshuffled every epoch


def test_sharded_resume_mid_epoch_matches():
    full = TensorBatches(_records(24), 8, True, seed=1)
    full.shard(1, 2)
    state = full.get_state()
    batches = [x for x, _ in full.epoch(state)]
    skipped = [x for x, _ in full.epoch(state, skip=1)]
    assert len(skipped) == len(batches) - 1
    assert all(torch.equal(a, b) for a, b in zip(batches[1:], skipped))


def test_shard_refuses_uneven_splits():
    with pytest.raises(ValueError, match="divisible by the 3 processes"):
        TensorBatches(_records(24), 8, True, seed=0).shard(0, 3)
    with pytest.raises(ValueError, match="last batch of each epoch has 3 records"):
        TensorBatches(_records(27), 8, False, seed=0).shard(0, 2)
    with pytest.raises(ValueError, match="outside"):
        TensorBatches(_records(24), 8, True, seed=0).shard(2, 2)


def test_loader_batches_reshuffle_a_distributed_sampler_every_epoch():
    ds = TensorDataset(_records(16))
    sampler = DistributedSampler(ds, num_replicas=2, rank=0, shuffle=True, seed=0)
    batches = LoaderBatches(DataLoader(ds, batch_size=4, sampler=sampler))
    epochs = []
    for epoch in range(2):
        batches.set_epoch(epoch)
        epochs.append(torch.cat([x[:, 0, 0] for x, _ in batches.epoch()]))
    assert epochs[0].numel() == 8  # this rank's half
    assert not torch.equal(epochs[0], epochs[1])


def test_helpers_are_no_ops_outside_a_launch():
    x = torch.randn(4, 3, requires_grad=True)
    assert gather_with_grad(x) is x
    assert world_size() == 1 and is_main_process()
    assert all_ranks_true(True) and not all_ranks_true(False)
    assert mean_over_ranks({"loss": 2.0}) == {"loss": 2.0}
    assert replicas_agree(torch.nn.Linear(2, 2))


def test_is_main_process_follows_the_launch_without_a_process_group(monkeypatch):
    for key, value in TORCHRUN.items():
        monkeypatch.setenv(key, value)
    assert not is_main_process()  # rank 1 of a launch, group not (or no longer) initialised
    monkeypatch.setenv("RANK", "0")
    assert is_main_process()


def test_ranks_get_distinct_augmentation_streams_and_rank_zero_keeps_the_one_process_seed():
    assert _augment_seed(5, 0) == 6
    assert len({_augment_seed(5, r) for r in range(8)}) == 8


def test_sync_batchnorm_is_validated_and_refused_for_cpu_processes():
    with pytest.raises(ValueError, match="sync_batchnorm"):
        PretrainConfig(sync_batchnorm="yes")  # type: ignore[arg-type]
    enc = ENCODERS.build("multibranch", n_leads=2, per_lead_dim=4, width=2)
    trainer = Pretrainer(METHODS.build("simclr", encoder=enc), sync_batchnorm=True)
    # one process: the option is ignored and the plain training step is used
    assert trainer._step_fn(trainer.method, torch.device("cpu"), 1) == trainer.method.training_step
    with pytest.raises(ValueError, match="needs GPUs"):  # before any process group is touched
        trainer._step_fn(trainer.method, torch.device("cpu"), 2)
