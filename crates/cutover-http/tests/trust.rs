//! `Trust::load` with an extra CA file: a file that cannot be read or does not parse is an error
//! naming it.

use cutover_http::Trust;

#[test]
fn an_extra_ca_file_that_does_not_parse_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad-ca.pem");
    std::fs::write(&bad, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
    let err = Trust::load(Some(&bad)).unwrap_err().to_string();
    assert!(err.contains("bad-ca.pem"), "{err}");
    let err = Trust::load(Some(&dir.path().join("nope.pem"))).unwrap_err().to_string();
    assert!(err.contains("nope.pem") && err.contains("cannot read"), "{err}");
    let trust = Trust::load(None).unwrap();
    assert!(trust.extra_ca().is_none());
}
