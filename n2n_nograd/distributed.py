"""Data-parallel training: ``n2n train`` as N processes launched by ``torchrun``.

Every process holds a whole model. All start from the same weights and draw the same
global batches (the seed is the run's), each runs forward and backward on its share of
every batch, then one all-reduce turns the hand-written gradients of all processes into
the gradient of the whole batch, so every process takes the same optimizer step and the
replicas never drift apart. Process 0 (the "lead") alone validates, logs and writes the
run folder; the others only train.

The framework in ``Proj_SCIPER`` knows nothing of ``torch.distributed``: ``Model.train``
takes any object with this module's ``share`` and ``reduce`` as ``data_parallel``.
"""

from __future__ import annotations

import os
import re
import signal

import torch
import torch.distributed as dist


class DataParallel:
    """This process's place among ``world_size`` processes of the default process group."""

    def __init__(self, rank: int, world_size: int):
        self.rank, self.world_size = rank, world_size

    @property
    def lead(self) -> bool:
        """Whether this process writes the run folder and logs (process 0)."""
        return self.rank == 0

    def share(self, indices: list) -> list:
        """This process's contiguous part of a global batch; parts differ by one pair at most."""
        n = len(indices)
        return indices[n * self.rank // self.world_size:n * (self.rank + 1) // self.world_size]

    def reduce(self, grads: list, loss: float, count: int, total: int) -> float:
        """Make ``grads`` the whole batch's gradients, in place; return its mean loss.

        ``grads`` hold the gradients of ``loss``, the mean loss of this process's ``count``
        of the batch's ``total`` pairs. Weighted by ``count / total`` and summed over the
        processes, they become those of the mean loss over all ``total`` pairs: a plain
        average would weigh a short share (the last batch of an epoch) like a full one.
        One all-reduce carries every gradient and the loss.
        """
        flat = torch.cat([grad.reshape(-1) for grad in grads] + [grads[0].new_full((1,), loss)])
        flat.mul_(count / total)
        try:
            dist.all_reduce(flat)
        except RuntimeError as exc:  # gloo and NCCL report a vanished peer this way
            raise _failed(f"process {self.rank} of {self.world_size} lost the other processes "
                          f"({_first_sentence(exc)})") from None
        offset = 0
        for grad in grads:
            grad.copy_(flat[offset:offset + grad.numel()].view(grad.shape))
            offset += grad.numel()
        return flat[-1].item()


def _first_sentence(exc: Exception) -> str:
    """gloo's messages start with a source location and go on for lines: keep the gist."""
    text = re.sub(r"^\[[^\]]*\]\s*", "", str(exc).strip())
    return text.split(". ")[0].splitlines()[0] if text else type(exc).__name__


def launched_by_torchrun() -> bool:
    """Whether this process is one of a group that ``torchrun`` started."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def start(device: str) -> tuple[DataParallel, str]:
    """Join the process group that ``torchrun`` describes in the environment.

    Returns this process's :class:`DataParallel` and the device it computes on: with
    ``cuda``, each process of a machine takes the GPU of its ``LOCAL_RANK`` and the
    processes talk over NCCL; on the CPU, over gloo. A ``cuda:N`` shared by several
    processes of one machine raises ValueError.
    """
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        if ":" in device and int(os.environ.get("LOCAL_WORLD_SIZE", "1")) > 1:
            raise ValueError(f"--device {device} would put every process of this machine on one "
                             "GPU; use --device cuda (process i takes cuda:i)")
        device = device if ":" in device else f"cuda:{local_rank}"
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    # torchrun stops the remaining processes with SIGTERM when one fails: end like a
    # lost peer, with a message, rather than silently.
    signal.signal(signal.SIGTERM, _stopped)
    return DataParallel(dist.get_rank(), dist.get_world_size()), device


def stop() -> None:
    """Leave the process group (SIGTERM stays handled until the process exits)."""
    dist.destroy_process_group()


def _stopped(signum, frame):
    raise _failed(f"process {dist.get_rank()} of {dist.get_world_size()} was stopped "
                  "(SIGTERM: torchrun stops every process when one fails)")


def _failed(message: str) -> ConnectionError:
    """The error that ends this process's run. From now on SIGTERM is ignored: torchrun
    sends it as soon as any process fails, and it must not cut the report of this one."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return ConnectionError(message)
