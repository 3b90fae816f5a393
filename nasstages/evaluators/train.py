"""Train a DARTS genotype from scratch, resumably: the DARTS evaluation recipe (SGD with momentum,
cosine learning rate, crop + flip + cutout, auxiliary loss, linearly increasing drop-path, gradient
clipping), mixed precision on a GPU, a checkpoint after every epoch.

Every random choice of epoch ``e`` (batch order, augmentation, drop-path) is drawn from
generators seeded by (seed, e), so a run resumed from epoch ``e`` gives the same result as an
uninterrupted one (exactly so on CPU).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nasstages.errors import ConfigError
from nasstages.evaluators.cifar import NUM_CLASSES, CifarData, normalizer
from nasstages.evaluators.model import DartsNetwork, count_parameters
from nasstages.evaluators.protocol import Protocol
from nasstages.io import atomic_path
from nasstages.spaces.darts import DartsArch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    valid_acc: float        # % on the held-out part of the training set (NaN without one)
    test_acc: float         # % on the test set (NaN unless eval_test)
    params: int             # parameters without the auxiliary head
    train_s: float          # wall-clock of training and evaluation, summed over resumed parts
    epochs: int
    history: list[dict[str, float]]


def split_indices(n: int, protocol: Protocol, split_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, valid) indices into the training set: a fixed random hold-out of ``valid_size``."""
    if protocol.valid_size >= n:
        raise ConfigError(f"valid_size {protocol.valid_size} leaves no training images (the set has {n})")
    order = np.random.default_rng(split_seed).permutation(n)
    valid, train = order[:protocol.valid_size], order[protocol.valid_size:]
    if protocol.train_size:
        train = train[:protocol.train_size]
    return np.sort(train), np.sort(valid)


def augment(images: torch.Tensor, cutout: int, generator: torch.Generator) -> torch.Tensor:
    """Random 32x32 crop of the 4-pixel zero-padded image, horizontal flip, cutout (batched)."""
    n, _, h, w = images.shape
    padded = nn.functional.pad(images, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=generator)
    dx = torch.randint(0, 9, (n,), generator=generator)
    rows = (dy.view(n, 1) + torch.arange(h).view(1, h)).to(images.device)
    cols = (dx.view(n, 1) + torch.arange(w).view(1, w)).to(images.device)
    batch = torch.arange(n, device=images.device).view(n, 1, 1, 1)
    channel = torch.arange(images.shape[1], device=images.device).view(1, -1, 1, 1)
    out = padded[batch, channel, rows.view(n, 1, h, 1), cols.view(n, 1, 1, w)]
    flip = (torch.rand(n, generator=generator) < 0.5).to(images.device)
    out = torch.where(flip.view(n, 1, 1, 1), out.flip(3), out)
    if cutout:
        cy = torch.randint(0, h, (n,), generator=generator).to(images.device)
        cx = torch.randint(0, w, (n,), generator=generator).to(images.device)
        ys = torch.arange(h, device=images.device).view(1, h, 1)
        xs = torch.arange(w, device=images.device).view(1, 1, w)
        half = cutout // 2  # DARTS's cutout: zero [c - L/2, c + L/2) around a uniform centre, clipped
        hole = ((ys >= cy.view(n, 1, 1) - half) & (ys < cy.view(n, 1, 1) + half)
                & (xs >= cx.view(n, 1, 1) - half) & (xs < cx.view(n, 1, 1) + half))
        out = out.masked_fill(hole.unsqueeze(1), 0.0)
    return out


class Trainer:
    """Trains one genotype under one protocol and seed; checkpoints to ``checkpoint`` every epoch."""

    def __init__(self, genotype: DartsArch, data: CifarData, protocol: Protocol, seed: int,
                 checkpoint: Path | None = None, device: str = "cpu", split_seed: int = 0,
                 threads: int | None = None) -> None:
        self.genotype, self.data, self.protocol, self.seed = genotype, data, protocol, int(seed)
        self.checkpoint = Path(checkpoint) if checkpoint else None
        self.device = torch.device(device)
        self.train_idx, self.valid_idx = split_indices(len(data.train_y), protocol, split_seed)
        torch.manual_seed(self.seed)
        self.model = DartsNetwork(genotype, protocol.channels, protocol.layers, NUM_CLASSES[data.dataset],
                                  auxiliary=protocol.auxiliary > 0).to(self.device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=protocol.learning_rate,
                                         momentum=protocol.momentum, weight_decay=protocol.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, protocol.epochs)
        self.use_amp = protocol.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.mean, self.std = normalizer(data.dataset, self.device)
        # numba's OpenMP layer (HOTNN in the same process) resets the shared OpenMP thread count;
        # keep the job's count (given, else the current one) for every epoch
        self.threads = threads or torch.get_num_threads()
        self.epoch = 0
        self.elapsed = 0.0
        self.history: list[dict[str, float]] = []

    # -- checkpoints -------------------------------------------------------------------------
    def _identity(self) -> dict[str, Any]:
        return {"protocol": asdict(self.protocol), "seed": self.seed, "dataset": self.data.dataset,
                "data_md5": self.data.md5, "genotype": repr(self.genotype)}

    def save(self) -> None:
        if self.checkpoint is None:
            return
        state = {"identity": self._identity(), "epoch": self.epoch, "elapsed": self.elapsed, "history": self.history,
                 "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict()}
        with atomic_path(self.checkpoint) as tmp:
            torch.save(state, tmp)

    def try_resume(self) -> bool:
        """Load this very run's checkpoint if there is one; a foreign or unreadable one is ignored."""
        if self.checkpoint is None or not self.checkpoint.exists():
            return False
        try:
            state = torch.load(self.checkpoint, map_location=self.device, weights_only=True)  # tensors and plain types only: no code runs on load
        except Exception as exc:  # a torn file from a killed writer cannot exist (atomic), but be safe
            log.warning("ignoring unreadable training checkpoint %s (%s)", self.checkpoint, exc)
            return False
        if state.get("identity") != self._identity():
            log.warning("ignoring training checkpoint %s of a different run", self.checkpoint)
            return False
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.elapsed, self.history = state["epoch"], state["elapsed"], state["history"]
        log.info("resuming training from epoch %d of %d (%s)", self.epoch, self.protocol.epochs, self.checkpoint)
        return True

    # -- training ----------------------------------------------------------------------------
    def _batch(self, images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(images).to(self.device, non_blocking=True).float()
        return x

    def train_epoch(self) -> dict[str, float]:
        p = self.protocol
        torch.set_num_threads(self.threads)
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        torch.manual_seed(self.seed * 100_003 + self.epoch)  # drop-path masks
        self.model.train()
        self.model.drop_path_prob = p.drop_path * self.epoch / p.epochs
        order = self.train_idx[torch.randperm(len(self.train_idx), generator=generator).numpy()]
        total_loss, correct, seen = 0.0, 0, 0
        for start in range(0, len(order), p.batch_size):
            idx = np.sort(order[start:start + p.batch_size])
            x = augment(self._batch(self.data.train_x[idx]), p.cutout, generator)
            x = (x - self.mean) / self.std
            y = torch.from_numpy(self.data.train_y[idx]).to(self.device)
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.use_amp):
                logits, aux = self.model(x)
                loss = nn.functional.cross_entropy(logits, y)
                if aux is not None:
                    loss = loss + p.auxiliary * nn.functional.cross_entropy(aux, y)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), p.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            total_loss += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(idx)
        self.scheduler.step()
        return {"loss": total_loss / seen, "train_acc": 100.0 * correct / seen}

    @torch.no_grad()
    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        if len(labels) == 0:
            return float("nan")
        self.model.eval()
        torch.set_num_threads(self.threads)
        correct = 0
        for start in range(0, len(labels), 256):
            x = (self._batch(images[start:start + 256]) - self.mean) / self.std
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.use_amp):
                logits, _ = self.model(x)
            correct += int((logits.argmax(1).cpu() == torch.from_numpy(labels[start:start + 256])).sum())
        return 100.0 * correct / len(labels)

    def run(self, *, stop_after_epochs: int | None = None, progress: Any = None) -> TrainResult:
        """Train to the protocol's last epoch (resuming if a checkpoint exists) and evaluate.
        ``stop_after_epochs`` (tests) interrupts after that many epochs of this call, like a kill."""
        self.try_resume()
        done_here = 0
        while self.epoch < self.protocol.epochs:
            started = time.perf_counter()
            stats = self.train_epoch()
            self.epoch += 1
            self.elapsed += time.perf_counter() - started
            self.history.append({"epoch": self.epoch, **stats})
            log.info("epoch %d/%d loss %.4f train acc %.2f", self.epoch, self.protocol.epochs, stats["loss"],
                     stats["train_acc"])
            if progress is not None:
                progress(self.epoch, self.protocol.epochs, stats)
            self.save()
            done_here += 1
            if stop_after_epochs is not None and done_here >= stop_after_epochs and self.epoch < self.protocol.epochs:
                raise KeyboardInterrupt(f"stopped after epoch {self.epoch} (stop_after_epochs)")
        started = time.perf_counter()
        valid = self.accuracy(self.data.train_x[self.valid_idx], self.data.train_y[self.valid_idx])
        test = self.accuracy(self.data.test_x, self.data.test_y) if self.protocol.eval_test else float("nan")
        self.elapsed += time.perf_counter() - started
        return TrainResult(valid_acc=valid, test_acc=test, params=count_parameters(self.model), train_s=self.elapsed,
                           epochs=self.epoch, history=list(self.history))
