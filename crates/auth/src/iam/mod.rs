//! IAM policy documents: parsing, validation and evaluation with AWS's logic.
