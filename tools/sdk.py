"""`make sdk`: client code generated from the contract, as a client team would.

    python -m tools.sdk [OUT]    (default: build/sdk)

- OUT/python/publishing_api_client: a Python client (openapi-python-client)
- OUT/typescript/api.ts: TypeScript types of every path and schema (openapi-typescript;
  a field with a default is optional in what a client sends, as the contract says)

Nothing is changed after generation: what reads badly or fails a type checker is fixed
in the contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi" / "openapi.yaml"
BIN = Path(sys.executable).parent
NODE_BIN = ROOT / "node_modules" / ".bin"
PACKAGE = "publishing_api_client"


def python_client(out: Path) -> Path:
    """The client package in OUT/python; its folder is on the path of a program using it."""
    folder = out / "python"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    package = folder / PACKAGE
    # ruff (from the venv) formats the code as the generator's post-hooks expect.
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [str(BIN / "openapi-python-client"), "generate", "--path", str(SPEC)]
    command += ["--meta", "none", "--output-path", str(package), "--fail-on-warning"]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return package


def typescript_types(out: Path) -> Path:
    target = out / "typescript" / "api.ts"
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [str(NODE_BIN / "openapi-typescript"), str(SPEC), "--output", str(target)]
    command += ["--default-non-nullable", "false"]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    return target


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else ROOT / "build" / "sdk"
    try:
        package, types = python_client(out), typescript_types(out)
    except subprocess.CalledProcessError as error:
        failed = " ".join(map(str, error.cmd[:2]))
        print(f"sdk: {failed} failed:\n{error.stdout}{error.stderr}", file=sys.stderr)
        return 1
    print(f"sdk: Python client in {package}\nsdk: TypeScript types in {types}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
