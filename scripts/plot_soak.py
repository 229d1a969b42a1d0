"""Plots a soak CSV (scripts/soak.sh): RSS and open descriptors, requests and p99 latency."""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = list(csv.DictReader(open(sys.argv[1])))
t = [int(r["seconds"]) / 60 for r in rows]
fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
top.plot(t, [float(r["rss_mib"]) for r in rows], label="RSS (MiB)")
top.plot(t, [int(r["fds"]) for r in rows], label="open fds")
top.set_ylim(bottom=0)
top.legend()
top.set_title("flowgate soak: memory and descriptors")
bottom.plot(t, [int(r["requests"]) / 10 for r in rows], label="requests/s")
bottom.plot(t, [int(r["errors"]) / 10 for r in rows], label="answers with errors/s")
bottom.set_xlabel("minutes")
bottom.set_ylim(bottom=0)
bottom.legend(loc="upper left")
latency = bottom.twinx()
latency.plot(t, [float(r["p99_ms"]) for r in rows], color="tab:red", label="p99 ms (right)")
latency.set_yscale("log")
latency.legend(loc="upper right")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=90)
