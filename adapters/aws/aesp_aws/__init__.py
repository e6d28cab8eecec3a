"""The aesp AWS profile (``aesp-aws``): the ports realised on native AWS services."""
