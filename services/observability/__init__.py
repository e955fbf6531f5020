"""Operations: metrics and structured logs."""
