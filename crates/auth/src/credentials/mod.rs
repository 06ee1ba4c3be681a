//! Access keys, secrets sealed at rest, and temporary credentials from AssumeRole.
