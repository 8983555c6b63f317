#!/usr/bin/env python3
"""Write a benign PyTorch-style zip checkpoint WITHOUT torch.

Layout as torch.save writes it: <top>/data.pkl (the pickled state dict),
<top>/data/<n> (raw storages, stored uncompressed), <top>/version,
<top>/byteorder. data.pkl is produced by Python's own pickle from a plain
structure (collections.OrderedDict of dicts), so it only imports
collections.OrderedDict: benign by construction. Storages are a repeated
1 MiB pseudo-random block (deterministic seed), so nothing compresses.

    gen_checkpoint.py OUT.pt [TOTAL_MIB]   (default 2048)
"""
import collections
import os
import pickle
import random
import sys
import zipfile

out = sys.argv[1]
total_mib = int(sys.argv[2]) if len(sys.argv) > 2 else 2048
member_mib = 64
n = max(1, total_mib // member_mib)
rng = random.Random(1234)
block = bytes(rng.getrandbits(8) for _ in range(1 << 20))

state = collections.OrderedDict()
for i in range(n):
    state[f"model.layers.{i}.mlp.weight"] = {"storage": str(i), "dtype": "float16", "shape": [4096, 8192], "offset": 0}
state["epoch"] = 3

tmp = out + ".tmp"
with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
    z.writestr("archive/data.pkl", pickle.dumps(state, protocol=2))
    z.writestr("archive/byteorder", "little")
    for i in range(n):
        with z.open(f"archive/data/{i}", "w", force_zip64=True) as f:
            for _ in range(member_mib):
                f.write(block)
    z.writestr("archive/version", "3\n")
os.replace(tmp, out)
print(f"wrote {out}: {os.path.getsize(out)} bytes, {n} storages of {member_mib} MiB")
