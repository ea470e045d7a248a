#!/usr/bin/env bash
# The README's figures (one of each kind) from a small run of the CLI tour: 3-epoch models.
# Usage: bash experiments/readme_figures.sh OUT_DIR   (about 3 minutes on 2 cores)
set -euo pipefail
out=$(realpath -m "${1:-docs/figures}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bp=${BACKPACK:-backpack}
cd "$work"
$bp synth --out data/ --seed 0 --json > /dev/null
$bp train --data data/ --tasks ar,lta,pnr --out runs/mtl --epochs 3 --hidden 64 --feat-dim 64 --quiet --json > /dev/null
$bp build runs/mtl --data data/ --store store/ --quiet --json > /dev/null
common=(--data data/ --from runs/mtl --limit 100 --epochs 3 --quiet --json)
$bp learn --task oscc --store store/ --out runs/oscc "${common[@]}" > /dev/null
$bp learn --task oscc --no-backpack --out runs/oscc-ft "${common[@]}" > /dev/null
$bp learn --task ar --store store/ --replace --out runs/ar "${common[@]}" > /dev/null
mkdir -p "$out"
$bp explain runs/oscc --data data/ --out pics/ --dpi 100 --json > /dev/null
$bp explain runs/ar --data data/ --out pics/ar --dpi 100 --json > /dev/null
$bp curves runs/oscc-ft runs/oscc --label MTL+FT --label EgoPack --out pics/ --dpi 100 --json > /dev/null
$bp inspect store/ --plot pics/maps --dpi 100 > /dev/null
cp pics/retrieved_ar.png pics/ar/confusion_verb.png pics/curves_oscc.png "$out/"
cp pics/maps/pnr.png "$out/map_pnr.png"
ls -l "$out"
