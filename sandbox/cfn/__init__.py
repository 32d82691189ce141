"""CloudFormation behaviour the sandbox adds to moto: DMS resource types, rollback, change sets."""
