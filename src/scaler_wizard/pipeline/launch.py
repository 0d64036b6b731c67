"""One `grow` across the processes of a launcher (`torchrun`, `accelerate launch --multi_gpu`).

Every process loads the model, prepares the same data (same recipe and seed; a digest of the
rows proves it), grows it identically and trains its share of each step (`train.parallel`).
Rank 0 alone owns the run folder: it plans, creates (or, resuming, finds) the run, writes the
manifest, the event log and the checkpoints, evaluates, checks the contracts, waits at approval
gates and exports. The other processes get a read-only view of the folder, emit no events and
print only their own errors.

Work only rank 0 does runs through `Launch.on_main`: the others wait, then receive its result,
or raise `PeerFailed` when it failed (rank 0 raises its own error as usual). The waiting and
these objects travel on a gloo group of their own with a long timeout, so that an evaluation
or an approval wait on rank 0 never trips the timeout of training's collectives.

What is guaranteed when something fails:
- rank 0 fails in work only it does: every process stops at that sync point, and all exit
  with rank 0's exit code (`Launch.finish`);
- every process meets the same error (a data error, the breaker's abort): each stops with it;
- one process fails alone anywhere else (out of memory, a crash): it exits at once. torchrun
  then stops the others; without a launcher agent they fail at their next collective, when the
  peer's connection closes or at the latest after `COLLECTIVE_TIMEOUT`.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from scaler_wizard.data.synthetic import ProgressFn
from scaler_wizard.pipeline.phases import PhaseFailed
from scaler_wizard.train.parallel import UnsupportedLaunch, refuse_sharding

T = TypeVar("T")

# Training's collectives (the gradient sum, the checkpoint barrier): a peer silent this long
# is gone.
COLLECTIVE_TIMEOUT = timedelta(minutes=30)
# How long the others wait for rank 0's own work: evaluations, export, an approval gate (whose
# own timeout is an hour by default).
WAIT_TIMEOUT = timedelta(days=7)


# How MPI launchers tell a process the number of processes (they set no WORLD_SIZE).
MPI_WORLD_SIZES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


class PeerFailed(RuntimeError):  # noqa: N818 - reads as what happened
    """Rank 0 failed in work only it does; this process stops with it (rank 0 reports why)."""


class ProcessesDisagree(RuntimeError):  # noqa: N818 - reads as what happened
    """The processes computed different things where they must agree."""


@dataclass
class Launch:
    """This process's place in a launch: `rank` of `world`. The default is one process, for
    which every method below does the single-process thing and nothing else."""

    rank: int = 0
    world: int = 1
    control: Any = None  # the gloo group that waits and objects travel on
    failure_shared: bool = False  # rank 0 failed in `on_main` and told the others

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def progress(self) -> ProgressFn | None:
        """For slow data work: the default bar on rank 0, nothing on the others."""
        return None if self.is_main else _no_progress

    def broadcast(self, value: T) -> T:
        """Rank 0's `value`, on every process (the others pass anything, e.g. None)."""
        if self.world == 1:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0, group=self.control)
        return box[0]

    def on_main(self, work: Callable[[], T]) -> T:
        """Run `work` on rank 0 alone and hand its result to every process; the others wait
        here. When `work` fails, rank 0 raises its error and the others `PeerFailed`."""
        if self.world == 1:
            return work()
        if not self.is_main:
            sent: tuple[bool, Any] = self.broadcast((False, None))
            done, value = sent
            if not done:
                raise PeerFailed(f"rank 0 failed: {value}")
            return value  # type: ignore[no-any-return]  # rank 0 sent (True, a T)
        try:
            result = work()
        except BaseException as exc:
            self.failure_shared = True
            self.broadcast((False, f"{type(exc).__name__}: {exc}"))
            raise
        self.broadcast((True, result))
        return result

    def check_rows(self, rows: Sequence[Any], what: str) -> None:
        """Raise on every process unless all of them prepared the same `rows` (each process
        prepares the data itself, so the shares of each step must come from the same rows)."""
        if self.world == 1:
            return
        import torch.distributed as dist

        digests: list[str | None] = [None] * self.world
        dist.all_gather_object(digests, rows_digest(rows), group=self.control)
        if len(set(digests)) > 1:
            raise ProcessesDisagree(
                f"the processes prepared different {what} from the same recipe and seed; "
                "something in the data path is not deterministic (e.g. self-instruct generation "
                "on different devices): prepare it once into a file and train on that"
            )

    def finish(self, code: int, error: BaseException | None) -> int:
        """The exit code for this process; leaves the process group.

        Processes that reached the end in step with rank 0 (finished, paused, or stopped by
        rank 0's failure) all take rank 0's code. One that failed on its own keeps its code and
        leaves at once: its peers may be inside any collective, and the launcher stops them."""
        if self.world == 1:
            return code
        peer = isinstance(error, PeerFailed) or (
            isinstance(error, PhaseFailed) and isinstance(error.error, PeerFailed)
        )
        if error is not None and not peer and not (self.is_main and self.failure_shared):
            return code
        import torch.distributed as dist

        code = self.broadcast(code)
        dist.barrier(group=self.control)  # nobody leaves while another still reads
        dist.destroy_process_group()
        return code


def join_launch() -> Launch:
    """This process's place in the launch that started it (the launcher's WORLD_SIZE, RANK,
    LOCAL_RANK, MASTER_ADDR...), the process group initialised once: gloo on CPUs, NCCL on
    GPUs with this process on cuda:LOCAL_RANK. Without a launcher: one process, nothing set up.
    """
    refuse_sharding()  # before anything is loaded: an FSDP/DeepSpeed launch cannot run
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world < 2 and any(int(os.environ.get(name, "1")) > 1 for name in MPI_WORLD_SIZES):
        # Each MPI process would otherwise make a run of its own.
        raise UnsupportedLaunch(
            "an MPI launch (mpirun, or accelerate's multi-CPU launch) is not supported: "
            "start the processes with `torchrun --nproc_per_node N -m scaler_wizard.cli grow`"
        )
    if world < 2:
        return Launch()
    import torch
    import torch.distributed as dist

    rank = int(os.environ["RANK"])
    backend = "gloo"
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        backend = "nccl"
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT)  # env:// of the launcher
    control = dist.new_group(backend="gloo", timeout=WAIT_TIMEOUT)
    if rank != 0:
        _quiet()
    return Launch(rank, world, control)


def rows_digest(rows: Sequence[Any]) -> str:
    """sha256 of the rows' token ids, labels and positions, in order."""
    digest = hashlib.sha256()
    for row in rows:
        for values in (row.input_ids, row.labels, row.position_ids):
            digest.update(array("q", values).tobytes() + b"|")
    return digest.hexdigest()


def _quiet() -> None:
    """Rank 0 speaks for the run: the others keep library chatter (warnings, info logs,
    download and progress bars) to themselves. Their own errors still print."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    warnings.simplefilter("ignore")


def _no_progress(task: str, done: int, total: int) -> None:
    return None
