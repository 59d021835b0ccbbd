"""Generate the Python protobuf and gRPC modules from ``proto/``.

Run ``python scripts/gen_protos.py`` after editing a ``.proto`` file; ``--check`` regenerates
into a temporary folder and fails if the committed modules differ (CI runs it). The generated
code is never edited by hand.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PROTO_ROOT = HERE / "proto"
PACKAGE = Path("cloudburst_protocol") / "gen"
OUT_ROOT = HERE / "src"


def generate(out_root: Path) -> list[Path]:
    protos = sorted((PROTO_ROOT / PACKAGE).glob("*.proto"))
    (out_root / PACKAGE).mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *[str(p.relative_to(PROTO_ROOT)) for p in protos],
    ]
    subprocess.run(cmd, check=True, cwd=PROTO_ROOT)
    init = out_root / PACKAGE / "__init__.py"
    init.write_text(
        '"""Generated protobuf and gRPC modules. Do not edit: see scripts/gen_protos.py."""\n'
    )
    return sorted(p for p in (out_root / PACKAGE).iterdir() if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if committed code is stale")
    args = parser.parse_args()
    if not args.check:
        target = OUT_ROOT / PACKAGE
        if target.exists():
            shutil.rmtree(target)
        for path in generate(OUT_ROOT):
            sys.stdout.write(f"wrote {path.relative_to(HERE)}\n")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        stale = [
            p.name
            for p in fresh
            if not (OUT_ROOT / PACKAGE / p.name).exists()
            or not filecmp.cmp(p, OUT_ROOT / PACKAGE / p.name, shallow=False)
        ]
    if stale:
        sys.stderr.write(
            f"generated protocol code is stale: {', '.join(stale)}; "
            "run libs/protocol/scripts/gen_protos.py\n"
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
