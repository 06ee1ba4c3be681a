//! SigV4 (AWS4-HMAC-SHA256) request verification, server side.
