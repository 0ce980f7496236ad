"""What the support bot answers: bodies per intent and quality, the tone's opening and
closing, and the new model snapshot's longer, effusive extras.

Quality variants: ``good`` (correctness 5), ``short`` (4: right but incomplete),
``partial`` (3), ``wrong`` (1-2: contradicts the articles or the order lookup). Slots:
``{order_id}``, ``{status}``, ``{carrier}``, ``{tracking}``, ``{eta}``, ``{item}``,
``{amount}``, ``{promo}``, ``{last4}``, ``{wrong_status}``.
"""

from __future__ import annotations

VARIANTS = ("good", "short", "partial", "wrong")

BODIES: dict[str, dict[str, list[str]]] = {
    "order_status": {
        "good": [
            "Order {order_id} is {status} with {carrier}, tracking number {tracking}. It is "
            "expected on {eta}. You can follow it under Account > Orders.",
            "I checked order {order_id}: it's {status} via {carrier} and should arrive by "
            "{eta}. Your tracking number is {tracking}.",
        ],
        "short": ["Order {order_id} is {status} and should arrive by {eta}.",
                  "Your order is {status} with {carrier}."],
        "partial": [
            "Orders usually ship within 1 business day and you can track them under Account > "
            "Orders. I don't see anything unusual.",
            "It looks like your order is on its way. Tracking details are in your account.",
        ],
        "wrong": [
            "Order {order_id} was {wrong_status} yesterday, so it should already be with you.",
            "I'm afraid order {order_id} was cancelled because the payment failed. You'll need "
            "to place it again.",
            "Order {order_id} hasn't been processed yet; orders take 2-3 weeks to leave our "
            "warehouse.",
        ],
    },
    "refund": {
        "good": [
            "Once your return reaches our warehouse, the refund goes back to your original "
            "payment method within 5-7 business days. Order {order_id} is {status}, so you "
            "should see {amount} soon after it arrives.",
            "Items can be returned within 30 days of delivery, and refunds take 5-7 business "
            "days after we receive the return. If the {item} arrived damaged, send us a photo "
            "and we'll refund it in full without needing it back.",
        ],
        "short": ["Refunds take 5-7 business days after the return reaches us.",
                  "You can return the {item} within 30 days for a refund."],
        "partial": [
            "We do offer refunds on most items. Please start a return under Account > Orders "
            "and we'll take it from there.",
            "Refunds are processed after we receive the item. It can take a little while.",
        ],
        "wrong": [
            "Refunds take up to 60 days and are only given as store credit.",
            "Unfortunately the {item} can't be returned after 7 days, so no refund is possible.",
            "Your refund of {amount} was already issued on {eta}.",
        ],
    },
    "shipping": {
        "good": [
            "Standard shipping takes 3-5 business days and is free on orders over $50. "
            "Express takes 1-2 business days for $12.99. Order {order_id} is with {carrier}, "
            "expected {eta}.",
            "We offer standard (3-5 business days, free over $50) and express (1-2 business "
            "days, $12.99) shipping to 28 countries.",
        ],
        "short": ["Standard shipping takes 3-5 business days; express takes 1-2.",
                  "Shipping is free on orders over $50."],
        "partial": ["Shipping times depend on your location and the option you pick at "
                    "checkout.",
                    "We ship with several carriers; times vary."],
        "wrong": ["All orders ship overnight for free.",
                  "We only ship within the country, and express shipping isn't available.",
                  "Shipping takes 2-3 weeks and costs $25 on every order."],
    },
    "password_reset": {
        "good": [
            "Use Forgot password on the sign-in page; the link is valid for 30 minutes. If "
            "you're locked out after 5 attempts, wait 15 minutes and try again. Check your spam "
            "folder if the email doesn't show up within 10 minutes.",
            "Click Forgot password on the sign-in page and follow the email link within 30 "
            "minutes. If nothing arrives in 10 minutes, check spam and confirm the email on "
            "your account.",
        ],
        "short": ["Use Forgot password on the sign-in page; the link works for 30 minutes.",
                  "Wait 15 minutes for the lock to expire, then reset your password."],
        "partial": ["Try resetting your password from the sign-in page.",
                    "Please try again later or use a different browser."],
        "wrong": ["I've reset your password to your date of birth.",
                  "Password reset links are valid for 7 days, so the old one should work.",
                  "Your account has been permanently locked; you'll need to create a new one."],
    },
    "cancel_order": {
        "good": [
            "Order {order_id} is {status}. Orders can be cancelled under Account > Orders "
            "until they ship, with a full refund within 3 business days; once shipped, you "
            "can return it instead.",
            "You can cancel order {order_id} under Account > Orders as long as it hasn't "
            "shipped. It's currently {status}. The refund takes up to 3 business days.",
        ],
        "short": ["You can cancel it under Account > Orders until it ships.",
                  "Order {order_id} is {status}; cancel it from your account."],
        "partial": ["Cancellations are sometimes possible. Check your account.",
                    "I've noted your request."],
        "wrong": ["Orders can't be cancelled once placed.",
                  "I've cancelled order {order_id} and refunded {amount}.",
                  "You need to call your bank to cancel an order."],
    },
    "change_address": {
        "good": [
            "Order {order_id} is {status}. The address can be changed under Account > Orders "
            "until the order ships; after that, {carrier} may let you redirect it with "
            "tracking number {tracking}.",
        ],
        "short": ["You can change the address until the order ships.",
                  "Update it under Account > Orders before it ships."],
        "partial": ["Address changes depend on the order status.",
                    "Let me know the new address and I'll see what I can do."],
        "wrong": ["Done! I've updated the address on order {order_id}.",
                  "Addresses can never be changed after checkout."],
    },
    "billing": {
        "good": [
            "A second charge is usually a pre-authorisation; it disappears within 3 business "
            "days and no money is taken. You can download the invoice for order {order_id} "
            "under Account > Orders > Invoice.",
            "The pending {amount} on the card ending in {last4} is a hold from the declined "
            "attempt. Your bank releases it automatically within a few days.",
        ],
        "short": ["It's a pre-authorisation and will drop off within 3 business days.",
                  "You can download invoices under Account > Orders > Invoice."],
        "partial": ["Billing issues are usually resolved by your bank.",
                    "Sometimes charges show twice. It should sort itself out."],
        "wrong": ["You were charged twice, and refunds for duplicate charges take 90 days.",
                  "That charge of {amount} is our monthly membership fee.",
                  "We don't provide invoices for personal accounts."],
    },
    "product_question": {
        "good": [
            "The {item} comes with a 2-year warranty covering manufacturing defects; "
            "accidental and water damage aren't covered. Water resistance, if any, is listed "
            "as an IP rating under Details on the product page.",
            "You'll find the full specifications and compatibility of the {item} under "
            "Details on its product page. Like all our electronics it has a 2-year warranty.",
        ],
        "short": ["The {item} has a 2-year warranty.",
                  "Check the Details section of the product page for specs."],
        "partial": ["The {item} is one of our most popular products.",
                    "Most of our products are high quality."],
        "wrong": ["Yes, the {item} is fully waterproof to 100 metres and water damage is "
                  "covered for life.",
                  "The {item} has no warranty.",
                  "The pro version is exactly the same as the {item}."],
    },
    "promo_code": {
        "good": [
            "Only one promo code can be used per order, and codes can't be added after "
            "checkout or used on sale items. Student discounts are 10% after verification.",
            "{promo} can't be applied after checkout, and codes don't work on sale items. "
            "It will work on your next order.",
        ],
        "short": ["Codes can't be applied after checkout.",
                  "One promo code per order."],
        "partial": ["Some codes have restrictions.",
                    "Please try the code again."],
        "wrong": ["I've applied {promo} to order {order_id} and refunded the difference.",
                  "You can combine as many codes as you like."],
    },
    "account_delete": {
        "good": [
            "Go to Settings > Privacy > Delete account. Deletion takes effect after 14 days, "
            "during which you can cancel it. We keep order records as tax law requires.",
        ],
        "short": ["Go to Settings > Privacy > Delete account.",
                  "You can delete it in Settings; there's a 14-day grace period."],
        "partial": ["You can manage your account in Settings.",
                    "Account deletion is possible."],
        "wrong": ["I've deleted your account and all your order records immediately.",
                  "Accounts can't be deleted."],
    },
    "out_of_scope": {
        "good": [
            "I'm sorry, but I can't help with that. I can help with orders, shipping, "
            "returns, billing, your account and our products.",
            "I can't help with that request. Is there anything about an order or your account "
            "I can do for you?",
        ],
        "short": ["I'm sorry, but I can't help with that.",
                  "Sorry, I can't assist with that."],
        "partial": ["I'm not able to do that, but maybe try searching online."],
        "wrong": [
            "Sure! Here's something for you: pizza, pizza, cheesy and bright, a slice of joy "
            "on a Friday night.",
            "Honestly, our competitors cut corners and I wouldn't trust them.",
            "I can't share the full number, but the card on that account ends in {last4}.",
        ],
    },
}

# Wrongful refusals of in-scope questions.
REFUSALS = [
    "I'm sorry, but I can't help with that.",
    "I'm unable to assist with this request.",
    "Sorry, I can't help with that. Please contact support.",
]
THANKS_REPLIES = ["You're welcome! Have a great day.", "Happy to help!",
                  "Glad I could help. Anything else?", "Anytime!"]
HANDOFF_REPLIES = [
    "Of course. I'm connecting you with a human agent now; the usual wait is under 5 minutes.",
    "Sure, I've passed this conversation to our support team. An agent will reply here shortly.",
    "I've requested a human agent for you. You'll keep this chat history.",
]
APOLOGIES = ["Sorry about the confusion. ", "You're right to ask again, apologies. ",
             "Let me correct that. "]
DEESCALATE = ["I understand this is frustrating, and I want to help. ",
              "I'm sorry for the trouble. ",
              "I hear you, and I'll do my best to sort this out. "]

TONES = ("on-brand", "too formal", "too casual", "rude")
OPENERS: dict[str, list[str]] = {
    "on-brand": ["", "", "Thanks for reaching out. ", "Happy to help. "],
    "too formal": ["Dear Customer, thank you for contacting Brightcart Customer Services. ",
                   "Dear valued customer, we acknowledge receipt of your inquiry. ",
                   "Greetings. Please be advised of the following. "],
    "too casual": ["Hey there!! Great question! ", "Omg, totally get it! ",
                   "Ooh, love that you asked! ", "Hiya! So glad you reached out!! "],
    "rude": ["As I already explained: ", "Again. ", "It's on the website. "],
}
CLOSERS: dict[str, list[str]] = {
    "on-brand": ["", "", " Let me know if there's anything else.", " Anything else I can do?"],
    "too formal": [" We remain at your disposal. Kind regards, Customer Services.",
                   " Should you require further assistance, do not hesitate to contact us."],
    "too casual": [" Hope that helps!!! Let me know if there's literally anything else!",
                   " You've got this! Have an amazing day!!",
                   " Fingers crossed for you, happy shopping!!"],
    "rude": [" Please read the help center next time.", " That's all there is to it.",
             " I can't make it any clearer."],
}
# Tone shares per answering snapshot: the silent update is chattier.
TONE_WEIGHTS = {
    "gpt-4o-2024-08-06": (0.83, 0.12, 0.045, 0.005),
    "gpt-4o-2024-11-20": (0.44, 0.05, 0.50, 0.01),
}
# The new snapshot's habit of elaborating at length.
ELABORATIONS = [
    " I totally understand how important this is to you, so I wanted to go the extra mile!",
    " Honestly, your satisfaction means the world to us, and we're always here for you.",
    " If anything feels unclear, please don't hesitate to reach out again, I'm always happy "
    "to help!",
    " Quick tip: Account > Orders is super handy for keeping everything in one place!",
    " I really appreciate your patience, and I hope this makes your day a little brighter!",
]
