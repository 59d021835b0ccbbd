"""Generated protobuf and gRPC modules. Do not edit: see scripts/gen_protos.py."""
