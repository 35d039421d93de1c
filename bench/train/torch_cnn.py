"""PyTorch twin of crates/nn/examples/bench_cnn.rs: the same 3D CNN (stem conv, residual
blocks with GroupNorm, global average pooling, linear projection, linear head), the same batch,
AdamW and loss; prints the same JSON fields."""
import argparse, json, resource, statistics, time

import torch
from torch import nn


def norm(c):
    # oncolens' default image encoder has no normalisation layer (ImageNorm::None).
    return nn.Identity()


class Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv_a = nn.Conv3d(cin, cout, 3, 2, 1, bias=False)
        self.norm_a = norm(cout)
        self.conv_b = nn.Conv3d(cout, cout, 3, 1, 1, bias=False)
        self.norm_b = norm(cout)
        self.shortcut = nn.Conv3d(cin, cout, 1, 2, 0, bias=False)
        self.norm_s = norm(cout)

    def forward(self, x):
        y = torch.relu(self.norm_a(self.conv_a(x)))
        y = self.norm_b(self.conv_b(y))
        return torch.relu(y + self.norm_s(self.shortcut(x)))


class Net(nn.Module):
    def __init__(self, stem_stride=1, stem=8, blocks=(16, 32, 32), embed=16):
        super().__init__()
        self.stem = nn.Conv3d(1, stem, 3, stem_stride, 1, bias=True)
        layers, c = [], stem
        for out in blocks:
            layers.append(Block(c, out))
            c = out
        self.blocks = nn.Sequential(*layers)
        self.project = nn.Linear(c, embed)
        self.head = nn.Linear(embed, 1)

    def forward(self, x):
        y = torch.relu(self.stem(x))
        y = self.blocks(y).mean(dim=(2, 3, 4))
        return self.head(torch.relu(self.project(y))).flatten()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--side", type=int, default=32)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--stem-stride", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    net = Net(a.stem_stride)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-3)
    x = torch.rand(a.batch, 1, a.side, a.side, a.side)
    y = torch.tensor([float(i % 2) for i in range(a.batch)])
    loss_fn = nn.BCEWithLogitsLoss()
    times = []
    for step in range(a.steps + 3):
        t = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        loss.item()
        if step >= 3:
            times.append(time.perf_counter() - t)
    net.eval()
    xi = torch.rand(a.batch, 1, a.side, a.side, a.side)
    infer = []
    with torch.no_grad():
        for step in range(a.steps + 3):
            t = time.perf_counter()
            out = net(xi).numpy()
            assert out.shape == (a.batch,)
            if step >= 3:
                infer.append(time.perf_counter() - t)
    print(json.dumps({
        "tool": f"PyTorch {torch.__version__} (CPU)",
        "batch": a.batch, "side": a.side, "threads": a.threads,
        "params": sum(p.numel() for p in net.parameters()),
        "train_step_s": statistics.median(times),
        "infer_batch_s": statistics.median(infer),
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


if __name__ == "__main__":
    main()
