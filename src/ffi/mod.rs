//! The C ABI: handles, status codes, last-error messages; one file per object.
