"""fairssl.finetune."""
