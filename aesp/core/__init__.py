"""Core domain logic of the Host, kept free of transport (gRPC) and cloud imports."""
