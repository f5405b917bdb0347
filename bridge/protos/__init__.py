"""Protocol definitions (.proto) and their generated code; regenerate with scripts/gen_protos.sh."""
