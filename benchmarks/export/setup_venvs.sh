#!/bin/sh
# The benchmark's two extra environments (both git-ignored under benchmarks/.venv-*):
#   .venv-generator    exactly the generator image's pinned requirements (no pandas, as in the image)
#   .venv-awswrangler  awswrangler, which pins pyarrow below 26
set -eu
bench=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$bench/.." && pwd)
python3 -m venv "$bench/.venv-generator"
"$bench/.venv-generator/bin/python" -m pip install --quiet --upgrade pip
"$bench/.venv-generator/bin/python" -m pip install --quiet -r "$repo/docker/parquet-generator/requirements.txt"
python3 -m venv "$bench/.venv-awswrangler"
"$bench/.venv-awswrangler/bin/python" -m pip install --quiet --upgrade pip
"$bench/.venv-awswrangler/bin/python" -m pip install --quiet "awswrangler>=3.9,<4"
"$bench/.venv-awswrangler/bin/python" -c "import awswrangler, pyarrow; print('awswrangler', awswrangler.__version__, 'pyarrow', pyarrow.__version__)"
