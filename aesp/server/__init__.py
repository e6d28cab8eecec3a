"""gRPC server side of the Host: transport security, servicers and wiring."""
