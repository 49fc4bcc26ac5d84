"""The lab: the experiments that back the project's claims (seeds, searches, ablations, benchmark), their records,
the design candidates they train, and the report written from those records."""
