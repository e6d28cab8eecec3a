"""Test doubles for the AWS profile: moto in server mode, and local fakes for what moto lacks.

Each fake speaks the AWS wire protocol of its API (JSON shapes, status codes, error bodies), so
the real boto3 client runs against it through ``endpoint_url`` (DESIGN §11).
"""
