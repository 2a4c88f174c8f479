//! ACME issuance and certificate installation on the hosts (being built).
