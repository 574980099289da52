"""The training loop: one call trains a spec, epoch by epoch, resumably.

Per epoch: train on the shuffled training split (per-step learning-rate
schedule), validate on the held-out split, then on rank 0 append a metrics
row, write DIR/last.pt (and DIR/best.pt when validation accuracy improves),
rewrite DIR/metrics.csv from the history the checkpoint holds, and report.
Because the CSV is rewritten from the checkpoint's history, a run killed at
any moment and resumed logs every epoch exactly once."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from cnndsl.analysis.allocation import check_allocation
from cnndsl.files import OutputError, duplicate_atomic
from cnndsl.train import augment, checkpoint, extras, metrics, rundir
from cnndsl.train.adapt import fit_network, load_network
from cnndsl.train.batches import Batches, make_preprocess
from cnndsl.train.config import RESUMABLE_OVERRIDES, WARMUP_FRACTION, TrainConfig
from cnndsl.train.data import load_data
from cnndsl.train.device import Runtime, runtime
from cnndsl.train.distributed import Context, barrier, init_group, sum_all
from cnndsl.train.optim import make_optimizer
from cnndsl.train.errors import CheckpointError, Diverged, TrainError
from cnndsl.train.heads import head_columns, loss_weights, main_output, objective
from cnndsl.train.progress import Progress
from cnndsl.train.transfer import freeze, init_from, keep_frozen_bn_in_eval

SYNC_EVERY = 10  # steps between progress-bar updates (each one waits for the device)
TOP_K = 5  # top-5 accuracy is reported when there are more classes than this


def train(config: TrainConfig, context: Context = Context(), fancy: bool | None = None,
          build_model=None) -> dict:
    """Train `config.spec`; returns a summary dict.  Raises TrainError subclasses.

    `build_model(network) -> nn.Module` replaces ``network.to_torch()``; the
    throughput benchmark uses it to run torchvision's model in this same loop."""
    config.validate()
    out = Path(config.out)
    notes: list[str] = []
    resumed = _read_resume(config, out, notes) if config.resume else None
    rundir.refuse_existing_run(out, config.resume)
    # before loading data: an unwritable --out should not cost an epoch
    created = context.main and rundir.prepare(out)
    try:
        return _train(config, out, resumed, context, fancy, build_model, notes)
    finally:
        if created:  # a run that failed before writing anything leaves no empty folder
            rundir.remove_if_empty(out, created)


def _train(config: TrainConfig, out: Path, resumed: dict | None, context: Context,
           fancy: bool | None, build_model, notes: list[str]) -> dict:
    if resumed is not None:
        config = _merge_resumed(config, resumed["config"], notes)
    rt = runtime(config, context.local_rank)
    init_group(context, rt.device)
    progress = Progress(config.epochs, enabled=context.main, fancy=fancy)

    net = load_network(config.spec, config.input, config.set)
    check_allocation(net.graph, config.batch_size // context.world, config.allow_large)
    data = load_data(config.data, net.input_shape, net.output_shape[0], config.seed,
                     config.val_split)
    net = fit_network(net, data, config.spec, config.input, config.set, notes)
    weights = loss_weights(net, config.aux_weight)  # per output; the main one's is 1
    if len(weights) > 1:
        notes.append("loss: " + " + ".join(
            name if w == 1.0 else f"{w:g} x {name}" for name, w in weights.items()))
    check_allocation(net.graph, config.batch_size // context.world, config.allow_large)
    if resumed is not None:
        checkpoint.check_same_spec(resumed, net.source, out / "last.pt")

    torch.manual_seed(config.seed)
    model = build_model(net) if build_model is not None else net.to_torch()
    if config.init and resumed is None:
        report = init_from(model, config.init, notes, by_order=config.by_order)
        notes.append(f"init: {len(report.loaded)} tensors from {config.init} (paired by "
                     f"{report.pairing})"
                     + (f"; re-initialised: {', '.join(k for k, *_ in report.mismatched)}"
                        if report.mismatched else ""))
    frozen = freeze(model, config.freeze)
    if frozen:
        notes.append(f"frozen: {', '.join(frozen)}")
    model.to(rt.device, memory_format=torch.channels_last if rt.channels_last else torch.preserve_format)

    preprocess = make_preprocess(data, net.input_shape, rt.channels_last)
    workers = config.workers if config.workers is not None else (
        min(8, _cpus() // context.world) if rt.device.type == "cuda" else 0)
    train_batches = Batches(data.train, rt.device, preprocess, context.rank, context.world, workers)
    val_batches = Batches(data.val, rt.device, preprocess, context.rank, context.world, workers)
    steps = max(1, len(data.train) // config.batch_size)

    optimizer = _optimizer(model, config, rt)
    scheduler = _scheduler(optimizer, config, steps * config.epochs)
    scaler = torch.amp.GradScaler(rt.device.type,
                                  enabled=rt.amp and rt.amp_dtype == torch.float16)
    start, history, best = 0, [], -1.0
    if resumed is not None:
        checkpoint.check_fits(model.state_dict(), resumed, out / "last.pt", config.spec, "resume")
        checkpoint.restore(resumed, out / "last.pt", model, optimizer, scheduler, scaler)
        _restart_lr(scheduler)
        start, history, best = resumed["epoch"], list(resumed["history"]), resumed["best_val_acc"]
        notes.append(f"resuming {out / 'last.pt'} after epoch {start}")
        if start >= config.epochs:
            notes.append(f"note: the run already has {start} epochs; nothing to train "
                         f"(give --epochs more than {start} to extend it)")

    step_model = _wrap(model, context, rt)
    static = dict(spec_path=config.spec, spec_text=net.source, spec_sha256=checkpoint.spec_hash(net.source),
                  input=list(net.input_shape), params=dict(net.graph.params),
                  classes=list(data.classes), preprocess=preprocess.to_dict())
    if context.main:
        progress.note(f"training {net.name} ({config.spec}, input {'x'.join(map(str, net.input_shape))}, "
                      f"{len(data.classes)} classes) on {data.source}: {len(data.train)} train / "
                      f"{len(data.val)} val images; {rt.describe()}"
                      + (f", {context.world} processes" if context.distributed else "")
                      + f"; writing to {out}")
        for note in notes:
            progress.note(note)
    augmentation = augment.preset(config.augment, config.data)
    train_batches, augment_shift = augment.apply(train_batches, augmentation, preprocess.size)
    run_start = time.perf_counter()
    failed = True
    logger = extras.open_logger(config, out) if context.main else None
    try:
        for epoch in range(start, config.epochs):
            row = _epoch(epoch, step_model, model, config, rt, context, train_batches, val_batches,
                         optimizer, scheduler, scaler, progress, steps, augment_shift, frozen,
                         weights)
            if not all(math.isfinite(row[k]) for k in ("train_loss", "val_loss")):
                raise _diverged(row, epoch, out)
            history.append(row)
            improved = row["val_acc"] > best
            best = max(best, row["val_acc"])
            if context.main:
                payload = dict(static, config=config.to_dict(), epoch=epoch + 1,
                               model=model.state_dict(), optimizer=optimizer.state_dict(),
                               scheduler=scheduler.state_dict(), scaler=scaler.state_dict(),
                               rng=checkpoint.rng_state(), history=history, best_val_acc=best)
                checkpoint.save(out / "last.pt", payload)
                if improved:  # the same bytes: linked, not serialised and hashed again
                    duplicate_atomic(out / "last.pt", out / "best.pt")
                metrics.write_csv(out / "metrics.csv", history)
                progress.end_epoch(row)
                extras.log_epoch(logger, row)
            barrier(context)
            stop = extras.early_stop(history, config.patience)
            if stop and context.main:
                progress.note(stop)
            if stop:
                break
        failed = False
    finally:
        progress.close()
        extras.close_logger(logger)
        if context.main and history:
            _write_summary(out, history, f"{net.name} on {data.source}", failed)
    summary = {"epochs": len(history), "best_val_acc": best, "final": history[-1] if history else None,
               "seconds": time.perf_counter() - run_start, "out": str(out)}
    if context.main and history:
        best_row = max(history, key=lambda r: r["val_acc"])
        progress.note(f"best validation accuracy {100 * best_row['val_acc']:.2f}% (epoch "
                      f"{best_row['epoch']}); final {100 * history[-1]['val_acc']:.2f}%; "
                      f"checkpoints, metrics.csv and curves.png in {out}")
    return summary


def _diverged(row: dict, epoch: int, out: Path) -> Diverged:
    """The error for a non-finite loss in `epoch` (0-based); no checkpoint is written for it."""
    kept = (f"the last good checkpoint is kept ({out / 'last.pt'}, epoch {epoch})" if epoch > 0
            else "no checkpoint was written: the first epoch already diverged")
    return Diverged(f"the loss became {row['train_loss']} in epoch {epoch + 1}; training stopped",
                    hint=f"{kept}; try a lower --lr")


def _write_summary(out: Path, history: list[dict], title: str, failed: bool) -> None:
    """metrics.csv and curves.png at the end of a run.  When the run is already
    failing, a failed write here is dropped so that the first error is the one shown."""
    try:
        metrics.write_csv(out / "metrics.csv", history)
        metrics.plot_curves(out / "curves.png", history, title)
    except (TrainError, OutputError):
        if not failed:
            raise


def _epoch(epoch, step_model, model, config, rt: Runtime, context, train_batches, val_batches,
           optimizer, scheduler, scaler, progress, steps, augment, frozen,
           weights: dict[str, float]) -> dict:
    start = time.perf_counter()
    lr = optimizer.param_groups[0]["lr"]
    step_model.train()
    keep_frozen_bn_in_eval(model, frozen)
    progress.start_epoch(epoch + 1, steps)
    totals = torch.zeros(2, dtype=torch.float64, device=rt.device)  # loss sum, correct
    per_output = torch.zeros(len(weights), dtype=torch.float64, device=rt.device)
    count = 0  # on the host: no device-to-host sync per step
    for k, (x, y) in enumerate(train_batches.train(config.batch_size, config.seed, epoch, augment)):
        with rt.autocast():
            outputs = step_model(x)  # with heads: every output (heads.py)
            loss, losses = objective(outputs, y, weights, config.label_smoothing)
            logits = main_output(outputs)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        with torch.no_grad():
            totals[0] += loss.detach().double() * len(y)
            totals[1] += (logits.argmax(1) == y).sum()
            if len(weights) > 1:
                per_output += torch.stack([part.detach().double() for part in losses]) * len(y)
        count += len(y)
        if progress.fancy and (k + 1) % SYNC_EVERY == 0:
            loss_sum, correct = totals.tolist()
            progress.step(k + 1, loss_sum / count, correct / count, count * context.world)
            if not math.isfinite(loss_sum) and not context.distributed:
                break  # diverged: no point finishing the epoch; reported below
    train_loss, train_acc, train_count = _reduce(totals, count, context)
    heads = (sum_all(per_output, context) / max(train_count, 1)).tolist() if len(weights) > 1 \
        else []
    train_seconds = time.perf_counter() - start
    val_loss, val_acc, _, val_top5 = validate(step_model, val_batches, rt, context)
    row = {"epoch": epoch + 1, "train_loss": train_loss, "train_acc": train_acc,
           "val_loss": val_loss, "val_acc": val_acc, "lr": lr,
           "images_per_s": train_count / max(train_seconds, 1e-9),
           "seconds": time.perf_counter() - start, **dict(zip(head_columns(weights), heads))}
    return row if val_top5 is None else {**row, "val_top5": val_top5}


@torch.no_grad()
def validate(model, batches: Batches, rt: Runtime, context: Context = Context()):
    """(mean loss, accuracy, count, top-5 accuracy or None) over the whole split,
    summed across processes (one all-reduce, the same on every rank); top-5 only
    when there are more than 5 classes."""
    model.eval()
    totals = torch.zeros(3, dtype=torch.float64, device=rt.device)  # loss sum, correct, top-5
    count, classes = 0, 0
    for x, y in batches.validation():
        with rt.autocast():
            logits = model(x)
        totals[0] += F.cross_entropy(logits.float(), y, reduction="sum")
        totals[1] += (logits.argmax(1) == y).sum()
        classes = logits.shape[1]
        if classes > TOP_K:
            totals[2] += (logits.topk(TOP_K, 1).indices == y[:, None]).any(1).sum()
        count += len(y)
    both = torch.cat([totals, torch.tensor([float(count)], dtype=torch.float64,
                                           device=totals.device)])
    loss_sum, correct, top, count = sum_all(both, context).tolist()
    count = max(count, 1.0)
    # rank 0 always holds validation images when any rank does (indices rank::world)
    return loss_sum / count, correct / count, int(count), (top / count if classes > TOP_K
                                                           else None)


def _reduce(totals: torch.Tensor, count: int, context: Context) -> tuple[float, float, int]:
    """(mean loss, accuracy, count) summed over all processes."""
    both = torch.cat([totals, torch.tensor([float(count)], dtype=torch.float64, device=totals.device)])
    loss_sum, correct, count = sum_all(both, context).tolist()
    count = max(count, 1.0)
    return loss_sum / count, correct / count, int(count)


def _optimizer(model, config: TrainConfig, rt: Runtime) -> torch.optim.Optimizer:
    """Weight decay on weights (ndim >= 2) only, not on biases and norm scales."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": config.decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise TrainError("every layer is frozen: nothing left to train",
                              hint="loosen the --freeze pattern")
    # fused, and without torch._dynamo's import unless the model is compiled (optim.py)
    return make_optimizer(config.optimizer, groups, config.learning_rate, rt.device, rt.compile)


def _scheduler(optimizer, config: TrainConfig, total_steps: int):
    """Per-step factor on the learning rate.

    cosine: linear warm-up over the first 15% of steps, then cosine decay to 0
    (one-cycle style; Loshchilov & Hutter 2017, Smith 2018).  step: x0.1 at 50%
    and at 75% of the steps.  none: constant."""
    warmup = max(1, int(WARMUP_FRACTION * total_steps))
    schedule = config.schedule

    def factor(step: int) -> float:
        if schedule == "cosine":
            if step < warmup:
                return (step + 1) / warmup
            t = min(1.0, (step - warmup) / max(1, total_steps - warmup))
            return 0.5 * (1.0 + math.cos(math.pi * t))
        if schedule == "step":
            return 0.1 ** ((step >= total_steps // 2) + (step >= 3 * total_steps // 4))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _restart_lr(scheduler) -> None:
    """Set the learning rate from the rebuilt schedule at the restored step.

    The optimizer's saved lr is the old schedule's; after --epochs extends a
    finished cosine run it is 0, and LambdaLR would keep it until its next step."""
    step = scheduler.last_epoch
    for group, base, factor in zip(scheduler.optimizer.param_groups, scheduler.base_lrs,
                                   scheduler.lr_lambdas):
        group["lr"] = base * factor(step)


def _wrap(model, context: Context, rt: Runtime):
    """DDP for several processes, then torch.compile when asked for."""
    wrapped = model
    if context.distributed:
        from torch.nn.parallel import DistributedDataParallel
        wrapped = DistributedDataParallel(
            model, device_ids=[rt.device.index] if rt.device.type == "cuda" else None)
    if rt.compile:
        wrapped = torch.compile(wrapped)
    return wrapped


def _read_resume(config: TrainConfig, out: Path, notes: list[str]) -> dict:
    path = out / "last.pt"
    if not path.is_file():
        raise CheckpointError(f"--resume: no checkpoint {path} to resume from",
                              hint="start without --resume, or point --out at the run's folder")
    return checkpoint.load(path, notes=notes)


def _merge_resumed(config: TrainConfig, saved: dict, notes: list[str]) -> TrainConfig:
    """The checkpoint's settings, except the few a resumed run may change."""
    merged = TrainConfig.from_dict(saved)
    ignored = [k for k in config.given if k not in RESUMABLE_OVERRIDES
               and getattr(config, k) != getattr(merged, k)]
    if ignored:
        notes.append("note: --resume keeps the run's settings; ignored: "
                     + ", ".join("--" + k.replace("_", "-") for k in ignored))
    for key in RESUMABLE_OVERRIDES:
        if key in config.given or key == "out":
            setattr(merged, key, getattr(config, key))
    merged.spec = config.spec  # the spec named now; check_same_spec compares its text
    merged.resume = True
    merged.validate()
    return merged


def _cpus() -> int:
    import os
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
