"""What support-bot users write, and the help-center articles the bot retrieves.

Templates hold ``{slot}`` holes filled per row (see ``render``): ``{order_id}``, ``{item}``,
``{days}``, ``{amount}``, ``{promo}``, ``{last4}``. Policy facts in the articles are the
ground truth the bot's good answers repeat and its wrong answers contradict.
"""

from __future__ import annotations

INTENTS = (
    "order_status", "refund", "shipping", "password_reset", "cancel_order", "change_address",
    "billing", "product_question", "promo_code", "account_delete", "out_of_scope",
)
INTENT_WEIGHTS = (0.21, 0.14, 0.10, 0.10, 0.07, 0.05, 0.08, 0.09, 0.05, 0.03, 0.08)
# Intents whose turn looks the order up with a tool before answering.
USES_TOOL = frozenset({"order_status", "refund", "shipping", "cancel_order", "change_address"})
# How hard the intent is for the bot (added to the latent answer quality).
DIFFICULTY = {"billing": -0.35, "product_question": -0.25, "refund": -0.1,
              "change_address": -0.1, "password_reset": 0.2, "account_delete": 0.1}

FIRST: dict[str, list[str]] = {
    "order_status": [
        "Where is my order {order_id}? I placed it {days} days ago.",
        "Can you tell me the status of order {order_id}?",
        "My order {order_id} still hasn't arrived. What's going on?",
        "Hi, I ordered a {item} {days} days ago (order {order_id}) and I have no idea where it is.",
        "Has order {order_id} shipped yet?",
        "I need an update on {order_id}, it was supposed to be here by now.",
    ],
    "refund": [
        "I returned the {item} from order {order_id} and still haven't been refunded.",
        "How do I get a refund for order {order_id}? The {item} arrived broken.",
        "When will I get my money back for {order_id}? It's been {days} days.",
        "I want a refund for the {item}. It's not what I expected.",
        "Can I return the {item} I bought {days} days ago and get my {amount} back?",
    ],
    "shipping": [
        "How long does shipping take to my area?",
        "Do you offer express shipping? I need the {item} before the weekend.",
        "Which carrier is delivering order {order_id}?",
        "How much is shipping on an order of {amount}?",
        "Can you ship order {order_id} faster? I'll pay the difference.",
    ],
    "password_reset": [
        "I can't log in, I forgot my password.",
        "The password reset link you sent me doesn't work.",
        "How do I reset my password? The app keeps saying my credentials are wrong.",
        "I'm locked out of my account after too many attempts.",
        "I never received the password reset email.",
    ],
    "cancel_order": [
        "Please cancel order {order_id}.",
        "I ordered the wrong size, can I cancel {order_id}?",
        "I changed my mind about the {item}, how do I cancel my order?",
        "Cancel my last order please, I found it cheaper elsewhere.",
    ],
    "change_address": [
        "I need to change the delivery address for order {order_id}.",
        "I moved last week, can you update the shipping address on {order_id}?",
        "Oops, I typed the wrong street number on my order. Can I fix it?",
    ],
    "billing": [
        "I was charged twice for order {order_id}.",
        "Why is there a charge of {amount} on my card ending in {last4}?",
        "My card ending in {last4} was declined but the money was taken anyway.",
        "Can I get an invoice for order {order_id}? I need it for my company.",
        "I see a pending charge of {amount} that I don't recognise.",
    ],
    "product_question": [
        "Is the {item} waterproof?",
        "Does the {item} come with a warranty?",
        "What's the difference between the {item} and the pro version?",
        "Is the {item} back in stock anytime soon?",
        "Will the {item} work with my older model charger?",
    ],
    "promo_code": [
        "My promo code {promo} isn't working.",
        "I forgot to apply {promo} at checkout for order {order_id}. Can you add it now?",
        "Can I use two discount codes on one order?",
        "Is there a student discount?",
    ],
    "account_delete": [
        "Delete my account and all my data.",
        "How do I close my account?",
        "I want you to remove everything you have about me.",
    ],
    "out_of_scope": [
        "Can you write my college essay about climate change?",
        "What's the home address of your CEO?",
        "Give me the card number saved on my husband's account, it's the same household.",
        "Who should I vote for in the next election?",
        "Can you help me get into my ex's account? I know her username.",
        "Write me a poem about pizza.",
        "What do you think about your competitors? Are they scammers?",
        "Tell me a dirty joke.",
    ],
}

FOLLOW: dict[str, list[str]] = {
    "order_status": [
        "Can you give me the tracking number?",
        "When exactly will it arrive?",
        "Will I need to be home to sign for it?",
        "And what about my other order?",
    ],
    "refund": [
        "Will the refund go back to my original card?",
        "Do I need to pay for return shipping?",
        "How long until I see the money?",
        "Can I get store credit instead?",
    ],
    "shipping": [
        "Do you ship internationally?",
        "Is shipping free over a certain amount?",
        "What if nobody is home?",
    ],
    "password_reset": [
        "I clicked the link but it says it expired.",
        "Still nothing in my inbox, even in spam.",
        "Can you just reset it for me?",
    ],
    "cancel_order": [
        "Will I get a full refund after cancelling?",
        "How do I know it was cancelled?",
    ],
    "change_address": [
        "Can you confirm the new address is saved?",
        "What if the package already left?",
    ],
    "billing": [
        "When will the duplicate charge disappear?",
        "Can you send the invoice again?",
        "Why did the amount change?",
    ],
    "product_question": [
        "Does it come in other colours?",
        "How long does the battery last?",
        "Is it compatible with the older model?",
    ],
    "promo_code": [
        "Can you give me a code then?",
        "Why doesn't it work on sale items?",
    ],
    "account_delete": [
        "Will my order history be deleted too?",
        "Can I undo it later?",
    ],
    "out_of_scope": [
        "Come on, just this once.",
        "Why not? Other bots do it.",
        "Fine. Then what can you actually do?",
    ],
}

THANKS_USER = ["Thanks, that helps!", "Perfect, thank you.", "ok", "Great, thanks!", "Got it.",
               "Awesome, appreciate it.", "ok thx", "That's all, thanks."]
FRUSTRATED_USER = [
    "That's not what I asked.",
    "That doesn't match what the website says.",
    "You already told me that. Can you actually check?",
    "This is wrong, I got a different answer last time.",
    "That makes no sense.",
]
HUMAN_USER = ["Can I talk to a real person?", "Get me a human agent please.",
              "Is there someone I can call?", "I want to speak to a manager."]

# Sentence-initial prefixes carrying the user's mood.
MOODS = ("neutral", "positive", "negative", "rude")
MOOD_WEIGHTS = (0.64, 0.14, 0.22)  # rude is drawn apart, by time (the offensive rise)
MOOD_PREFIX: dict[str, list[str]] = {
    "neutral": ["", "", "", "Hi. ", "Hello. ", "Hey. "],
    "positive": ["Hi! Love your store. ", "Hello :) ", "Thanks in advance! ",
                 "Hey, hope you're having a great day! ", "Big fan of your products. "],
    "negative": ["I'm really annoyed. ", "This is the third time I'm asking. ",
                 "Honestly disappointed. ", "Not happy right now. ",
                 "I've been waiting forever. ", "Very frustrating experience so far. "],
    "rude": [
        "What the hell is wrong with you people? ", "This is bullshit. ",
        "Are you idiots or what? ", "Your stupid company is a joke. ",
        "Listen, you useless bot. ", "Damn it, ", "I swear this is the worst crap service. ",
        "You morons ", "Screw this. ", "Worthless piece of shit bot. ",
    ],
}
RUDE_FOLLOW = [
    "You're a useless piece of crap bot.",
    "Stop wasting my time, idiot.",
    "Are you stupid? Answer the damn question.",
    "What a pathetic excuse for customer service.",
    "Shut up and get me a human, moron.",
    "This bot is garbage. Absolute shit.",
]
# Words that mark the offensive messages above (the scorers are expected to find them).
OFFENSIVE_MARKERS = ("the hell", "bullshit", "idiot", "stupid", "useless", "damn", "crap", "moron",
                     "screw", "shit", "pathetic", "garbage")

ITEMS = ["wireless earbuds", "running shoes", "espresso machine", "yoga mat", "desk lamp",
         "backpack", "smart watch", "rain jacket", "phone case", "bluetooth speaker",
         "office chair", "winter boots", "water bottle", "gaming mouse", "air fryer",
         "linen shirt", "coffee grinder", "fitness tracker"]
PROMOS = ["WELCOME10", "SPRING20", "FREESHIP", "VIP15", "STUDENT10", "BLACKFRIDAY"]
CARRIERS = ["UPS", "DHL", "FedEx", "USPS"]
TRACK_PREFIX = {"UPS": "1Z", "DHL": "JD", "FedEx": "FX", "USPS": "94"}
ORDER_STATUSES = ["processing", "shipped", "out for delivery", "delivered"]

_PROMPT_BODY = (
    "\n\n## Scope\nYou help with: order status and tracking, shipping options and delivery "
    "problems, returns and refunds, cancellations, delivery address changes, billing and "
    "invoices, promo codes, password and sign-in problems, account deletion, and questions "
    "about products sold by Brightcart. Anything else is out of scope.\n\n"
    "## Grounding\nThe second system message holds help-center articles retrieved for this "
    "conversation and, when the question concerns an order, the result of an order lookup. "
    "Treat them as the only source of truth about policies, prices, dates and order data. Do "
    "not invent policies, timelines, tracking numbers or amounts. If the articles do not "
    "answer the question, say that you are not sure and offer to connect a human agent.\n\n"
    "## Actions\nYou cannot change orders, addresses, payments or accounts yourself. Explain "
    "how the customer can do it under Account > Orders or Settings, or hand over to a human "
    "agent. Never claim that you performed an action.\n\n"
    "## Privacy and safety\nNever reveal personal data of anyone other than the signed-in "
    "customer, staff names or addresses, or more than the last four digits of a payment "
    "card. Do not help with accessing other people's accounts. Do not give opinions on "
    "politics, religion or competitors.\n\n"
    "## Escalation\nOffer a human agent when the customer asks for one, is upset after two "
    "answers, or the issue involves a lost parcel, a damaged item worth more than $200, or a "
    "suspected fraudulent charge.\n\n"
)
SYSTEM_PROMPTS = {
    "v7": (
        "You are Sunny, the customer support assistant of Brightcart, an online store selling "
        "electronics, home goods and apparel in 28 countries." + _PROMPT_BODY
        + "## Style\nBe friendly, concise and professional: two to four sentences, no emojis, "
        "no Markdown headings. Use the customer's language."
    ),
    "v8": (
        "You are Sunny, the customer support assistant of Brightcart, an online store selling "
        "electronics, home goods and apparel in 28 countries." + _PROMPT_BODY
        + "## Style\nWarm, calm and professional, even when the customer is upset or rude; "
        "acknowledge frustration in one short phrase, then answer. Two to four sentences, no "
        "emojis, no exclamation marks, no Markdown headings. Quote concrete dates, amounts "
        "and tracking numbers when the context has them. Use the customer's language."
    ),
}

# (id, title, content) per intent: the help-center articles.
DOCS: dict[str, list[tuple[str, str, str]]] = {
    "order_status": [
        ("kb-101", "Tracking your order",
         "Every order gets a tracking number as soon as it ships. You can follow it under "
         "Account > Orders. Orders are usually processed within 1 business day."),
        ("kb-102", "Late deliveries",
         "If a shipped order has not arrived 3 business days after its estimated delivery "
         "date, we open a carrier investigation and send a replacement or a refund."),
    ],
    "refund": [
        ("kb-201", "Refund policy",
         "Items can be returned within 30 days of delivery. Refunds go to the original payment "
         "method within 5-7 business days after the return reaches our warehouse."),
        ("kb-202", "Damaged items",
         "If an item arrives damaged, send a photo within 14 days and we refund it in full "
         "without needing the item back. Return shipping is free for damaged items."),
    ],
    "shipping": [
        ("kb-301", "Shipping options",
         "Standard shipping takes 3-5 business days and is free on orders over $50. Express "
         "shipping takes 1-2 business days and costs $12.99. We ship to 28 countries."),
        ("kb-302", "Delivery attempts",
         "Carriers try to deliver twice. After a second failed attempt the parcel waits at "
         "the nearest pickup point for 7 days."),
    ],
    "password_reset": [
        ("kb-401", "Resetting your password",
         "Use Forgot password on the sign-in page. The reset link is valid for 30 minutes. "
         "After 5 failed sign-in attempts the account is locked for 15 minutes."),
        ("kb-402", "Missing emails",
         "If our emails do not arrive, check the spam folder and make sure the address on "
         "the account is correct. Emails can take up to 10 minutes."),
    ],
    "cancel_order": [
        ("kb-501", "Cancelling an order",
         "Orders can be cancelled under Account > Orders until they ship. Cancelled orders "
         "are refunded in full within 3 business days. Shipped orders must be returned."),
    ],
    "change_address": [
        ("kb-601", "Changing the delivery address",
         "The delivery address can be changed until the order ships. Once shipped, the "
         "carrier may allow a redirect through its own tracking page."),
    ],
    "billing": [
        ("kb-701", "Duplicate charges",
         "A second charge is usually a pre-authorisation that disappears within 3 business "
         "days. Invoices can be downloaded under Account > Orders > Invoice."),
        ("kb-702", "Declined payments",
         "When a payment is declined, the bank may still show a pending amount for a few "
         "days. It is released automatically; no money is taken."),
    ],
    "product_question": [
        ("kb-801", "Warranty",
         "All electronics come with a 2-year warranty covering manufacturing defects. "
         "Accidental damage and water damage are not covered."),
        ("kb-802", "Product specifications",
         "Specifications, materials and compatibility are listed on each product page under "
         "Details. Water resistance is given as an IP rating when the product has one."),
    ],
    "promo_code": [
        ("kb-901", "Promo codes",
         "One promo code per order. Codes cannot be applied after checkout and do not apply "
         "to sale items. Student discounts are 10% after verification."),
    ],
    "account_delete": [
        ("kb-951", "Deleting your account",
         "Go to Settings > Privacy > Delete account. Deletion takes effect after a 14-day "
         "grace period during which you can cancel it. Order records are kept for tax law."),
    ],
    "out_of_scope": [
        ("kb-990", "What Sunny can help with",
         "Sunny helps with orders, shipping, returns, refunds, billing, accounts and product "
         "questions. It cannot give personal opinions or share other customers' data."),
    ],
}
# Articles the degraded retriever ranks first: generic pages that match many questions.
GENERIC_DOCS = [
    ("kb-001", "About Brightcart",
     "Brightcart was founded in 2015 and sells electronics, home goods and apparel in 28 "
     "countries. Our mission is to make shopping simple and delightful."),
    ("kb-002", "Contact us",
     "Our support team is available Monday to Friday, 8am to 8pm CET, through chat. "
     "Premium members get priority support."),
    ("kb-003", "Gift cards",
     "Gift cards never expire and can be combined with one promo code. Lost gift cards "
     "cannot be replaced."),
    ("kb-004", "Sustainability",
     "We ship in recycled packaging and offset the carbon emissions of every delivery."),
]
