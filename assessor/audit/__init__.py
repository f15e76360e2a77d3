"""The audit workflow over stored assessments: requirement roll-up and trends across periods."""
