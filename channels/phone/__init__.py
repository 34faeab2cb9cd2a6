"""What every phone channel (USSD now, SMS next) shares: GSM-7 text, the operator behind a number,
and the ASCII-safe words and amounts a handset shows."""
