"""bmi_decoder."""
