#!/usr/bin/env bash
# Scaffolds an Nx project: new-project.sh <libs|apps|tools> <name> "<tags,comma,separated>" [ref ...]
# Writes package.json, project.json, tsconfig.json, jest.config.js and src/index.ts.
set -euo pipefail
kind=$1 name=$2 tags=$3; shift 3
dir="$kind/$name"
mkdir -p "$dir/src"
tag_json=$(printf '%s' "$tags" | awk -F, '{for(i=1;i<=NF;i++) printf "%s\"%s\"", (i>1?", ":""), $i}')
refs=""
for r in "$@"; do refs="$refs${refs:+, }{ \"path\": \"../../$r\" }"; done
[ -f "$dir/package.json" ] || cat > "$dir/package.json" <<JSON
{
  "name": "@tributary/$name",
  "version": "0.1.0",
  "private": true,
  "main": "./dist/index.js",
  "types": "./dist/index.d.ts",
  "exports": {
    ".": { "types": "./dist/index.d.ts", "default": "./dist/index.js" }
  }
}
JSON
[ -f "$dir/project.json" ] || cat > "$dir/project.json" <<JSON
{
  "\$schema": "../../node_modules/nx/schemas/project-schema.json",
  "name": "$name",
  "sourceRoot": "$dir/src",
  "projectType": "$([ "$kind" = apps ] && echo application || echo library)",
  "tags": [$tag_json],
  "targets": {
    "build": {
      "command": "tsc -b $dir",
      "outputs": ["{projectRoot}/dist"]
    },
    "test": {
      "command": "jest -c $dir/jest.config.js",
      "inputs": ["default", "^production"]
    }
  }
}
JSON
[ -f "$dir/tsconfig.json" ] || cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": {
    "rootDir": "src",
    "outDir": "dist",
    "tsBuildInfoFile": "dist/tsconfig.tsbuildinfo"
  },
  "include": ["src/**/*.ts"],
  "references": [$refs]
}
JSON
[ -f "$dir/jest.config.js" ] || cat > "$dir/jest.config.js" <<'JS'
module.exports = require('../../tools/jest-preset.js')(__dirname);
JS
[ -f "$dir/src/index.ts" ] || echo "export {};" > "$dir/src/index.ts"
echo "created $dir"
