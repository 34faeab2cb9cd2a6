"""Orange Money: WebPay (a payment page, for web and Telegram voters) and the Cameroon merchant
payment API (a USSD push prompt, for USSD and SMS voters), two providers behind one interface."""

from payments.orange.push import OrangePush, PushCredentials
from payments.orange.webpay import OrangeWebPay, WebPayCredentials

__all__ = ["OrangePush", "OrangeWebPay", "PushCredentials", "WebPayCredentials"]
