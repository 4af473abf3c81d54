"""A small conv + BatchNorm + ReLU network trained for one epoch of a few steps, in one process
or data-parallel (run under mpiexec); rank 0 saves the final state_dict as an .npz file.

    python sync_bn_steps.py OUT.npz --dtype float64 [--distributed [--no-sync]]

The data are random: ``--samples`` images of 12x12 (default 38) in batches of 12 (38: steps of
12, 12, 12 and 2 images, so with 3 ranks the last step leaves rank 2 with none). ``--no-sync``
keeps plain BatchNorm (per-rank statistics) to show what synchronising buys.
"""

import argparse

import numpy as np

import minicnn
from minicnn import nn
from minicnn.data import ArrayDataset, DataLoader, ShardedDataLoader
from minicnn.optim import SGD
from minicnn.train.loop import train_epoch


def build_model(dtype):
    minicnn.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3), nn.BatchNorm2d(6), nn.ReLU(),
        nn.Flatten(), nn.Linear(6 * 4 * 4, 16), nn.BatchNorm1d(16), nn.ReLU(),
        nn.Linear(16, 10),
    ).to(dtype)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--distributed", action="store_true")
    parser.add_argument("--no-sync", action="store_true")
    parser.add_argument("--samples", type=int, default=38)
    args = parser.parse_args()
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(1)
    dataset = ArrayDataset(rng.standard_normal((args.samples, 1, 12, 12)).astype(dtype),
                           rng.integers(0, 10, args.samples))
    model = build_model(dtype)
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3, nesterov=True)
    data_parallel, root = None, True
    if args.distributed:
        from minicnn.distributed import DataParallel, init

        communicator = init()
        root = communicator.is_root
        if not args.no_sync:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        loader = ShardedDataLoader(dataset, batch_size=12, shuffle=True, generator=0,
                                   rank=communicator.rank, num_replicas=communicator.size)
        loss_fn = nn.CrossEntropyLoss(reduction="sum")
        data_parallel = DataParallel(model, communicator)
        data_parallel.broadcast_state()
    else:
        loader = DataLoader(dataset, batch_size=12, shuffle=True, generator=0)
        loss_fn = nn.CrossEntropyLoss()
    result = train_epoch(model, loader, loss_fn, optimizer, data_parallel=data_parallel)
    if root:
        np.savez(args.out, train_loss=result.loss,
                 **{key: np.asarray(value) for key, value in model.state_dict().items()})


if __name__ == "__main__":
    main()
