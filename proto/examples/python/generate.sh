#!/bin/sh
# Generates the Python stubs of proto/tributary/v1 into ./gen (git-ignored).
# Uses grpcio-tools when installed (pip install grpcio grpcio-tools protobuf), else the Debian
# packages' protoc + grpc_python_plugin (apt-get install protobuf-compiler
# protobuf-compiler-grpc python3-grpcio python3-protobuf).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
proto=$(cd "$here/../.." && pwd)
out="$here/gen"
rm -rf "$out" && mkdir -p "$out"
PYTHON=${PYTHON:-python3}
if "$PYTHON" -c 'import grpc_tools' 2>/dev/null && [ -z "${USE_PROTOC:-}" ]; then
  "$PYTHON" -m grpc_tools.protoc -I "$proto" --python_out="$out" --grpc_python_out="$out" "$proto"/tributary/v1/*.proto
else
  protoc -I "$proto" --python_out="$out" --grpc_python_out="$out" \
    --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" "$proto"/tributary/v1/*.proto
fi
echo "stubs in $out/tributary/v1"
