"""Sentence pairs with a similarity rating, for checking semantic-similarity scorers (a plain
module, not a conftest).

Our own set, written and rated for this project on the STS scale (5: same meaning, 4: same
meaning with a detail changed or missing, 3: roughly equivalent with important differences,
2: same topic, different claims, 1: related words, different subject, 0: unrelated), in the
register of what an assistant answers: support, shop, SQL and general questions. No public
sentence-pair set (STS-B, SICK) ships in a package, and nothing may be downloaded at run time.
It is small (64 pairs), so its figures say "ranks these pairs like a person does", not a
benchmark score.
"""

from __future__ import annotations

PAIRS: list[tuple[str, str, int]] = [
    # 5: paraphrases
    ("Your order ships tomorrow.", "We will send out your package tomorrow.", 5),
    ("You can return any item within 30 days.", "Items may be returned up to thirty days "
     "after purchase.", 5),
    ("The store opens at 9 am.", "Our shop opens its doors at nine in the morning.", 5),
    ("I cannot help with that request.", "Sorry, that is something I am unable to assist "
     "with.", 5),
    ("Reset your password from the login page.", "On the sign-in page you can set a new "
     "password.", 5),
    ("The refund was sent to your credit card.", "We have refunded the amount to your card.", 5),
    ("Paris is the capital of France.", "The capital city of France is Paris.", 5),
    ("The meeting has been moved to Friday.", "We rescheduled the meeting for Friday.", 5),
    ("Shipping is free for orders over 50 euros.", "Orders above 50 euros ship at no cost.", 5),
    ("The query returns the ten most recent orders.", "It selects the latest ten orders.", 5),
    ("Water boils at 100 degrees Celsius at sea level.", "At sea level, water reaches its "
     "boiling point at 100 °C.", 5),
    ("Please restart the router and try again.", "Try again after turning your router off "
     "and on.", 5),
    # 4: the same with a detail changed or missing
    ("Your order ships tomorrow by express courier.", "Your order ships tomorrow.", 4),
    ("You can return any item within 30 days with the receipt.", "You can return items "
     "within 30 days.", 4),
    ("The store opens at 9 am on weekdays.", "The store opens at 9 am.", 4),
    ("The refund takes five business days to appear.", "The refund will appear in a few "
     "days.", 4),
    ("Reset your password from the login page using your email.", "Reset your password "
     "from the login page.", 4),
    ("The meeting has been moved to Friday afternoon.", "The meeting is now on Friday.", 4),
    ("Add an index on the customer_id column to speed up the join.", "An index on "
     "customer_id will make the join faster.", 4),
    ("The laptop has 16 GB of memory and a 512 GB SSD.", "The laptop comes with 16 GB "
     "of RAM.", 4),
    # 3: roughly equivalent, important differences
    ("Your order ships tomorrow.", "Your order shipped yesterday.", 3),
    ("You can return any item within 30 days.", "You can exchange items within 14 days.", 3),
    ("The store opens at 9 am.", "The store closes at 9 pm.", 3),
    ("The refund was sent to your credit card.", "The refund was sent as store credit.", 3),
    ("The meeting has been moved to Friday.", "The meeting has been cancelled.", 3),
    ("The query returns the ten most recent orders.", "The query returns the ten largest "
     "orders.", 3),
    ("Shipping is free for orders over 50 euros.", "Shipping costs 5 euros for orders under "
     "50 euros.", 3),
    ("Please restart the router and try again.", "Please restart your computer and try "
     "again.", 3),
    # 2: same topic, different claims
    ("Your order ships tomorrow.", "Tracking numbers are sent by email.", 2),
    ("You can return any item within 30 days.", "Our warehouse is in Rotterdam.", 2),
    ("Reset your password from the login page.", "Two-factor authentication protects your "
     "account.", 2),
    ("The refund was sent to your credit card.", "We accept Visa and Mastercard.", 2),
    ("The query returns the ten most recent orders.", "The orders table has a column for "
     "the status.", 2),
    ("Paris is the capital of France.", "France is famous for its cheese.", 2),
    ("Water boils at 100 degrees Celsius at sea level.", "Ice floats because it is less "
     "dense than water.", 2),
    ("The laptop has 16 GB of memory.", "The laptop's battery lasts ten hours.", 2),
    # 1: related words, different subject
    ("Your order ships tomorrow.", "The ship leaves the harbour in the morning.", 1),
    ("The store opens at 9 am.", "Open the file and store it in the archive.", 1),
    ("Reset your password from the login page.", "The page was torn out of the book.", 1),
    ("The meeting has been moved to Friday.", "Robinson Crusoe met Friday on the island.", 1),
    ("Please restart the router and try again.", "The rugby team will try again next "
     "season.", 1),
    ("The query returns the ten most recent orders.", "The monks follow the orders of "
     "their abbot.", 1),
    ("The refund was sent to your credit card.", "She sent him a birthday card.", 1),
    ("Paris is the capital of France.", "The company raised capital from investors.", 1),
    # 0: unrelated
    ("Your order ships tomorrow.", "Photosynthesis turns light into chemical energy.", 0),
    ("You can return any item within 30 days.", "The violin concerto was written in 1878.", 0),
    ("The store opens at 9 am.", "Penguins cannot fly.", 0),
    ("I cannot help with that request.", "The river flooded the valley last spring.", 0),
    ("Reset your password from the login page.", "Tomatoes need plenty of sun.", 0),
    ("The refund was sent to your credit card.", "Mount Everest is in the Himalayas.", 0),
    ("Paris is the capital of France.", "Add two cups of flour to the batter.", 0),
    ("The meeting has been moved to Friday.", "Jupiter has dozens of moons.", 0),
    ("Shipping is free for orders over 50 euros.", "The poem is about a lonely lighthouse.", 0),
    ("The query returns the ten most recent orders.", "Cats sleep most of the day.", 0),
    ("Water boils at 100 degrees Celsius at sea level.", "He scored twice in the final.", 0),
    ("Please restart the router and try again.", "The museum has a Rembrandt painting.", 0),
    ("The laptop has 16 GB of memory.", "Bees communicate by dancing.", 0),
    ("Add an index on the customer_id column.", "The orchestra tuned before the concert.", 0),
    ("SELECT count(*) FROM orders WHERE status = 'open'", "Count the orders that are still "
     "open.", 4),
    ("SELECT name FROM customers ORDER BY created_at DESC LIMIT 5", "The five newest "
     "customers' names.", 4),
    ("SELECT avg(total) FROM orders", "The weather will be sunny tomorrow.", 0),
    ("Yes.", "No.", 1),
    ("Yes, that is correct.", "That's right.", 5),
    ("The answer is 42.", "It is forty-two.", 5),
]


# Questions a user might send, paired with a golden item's input: True when a person would
# take them as the same request (so the item's expected answer applies), False when they ask
# for something else, however many words they share. Our own, for the live matching cut.
QUESTION_PAIRS: list[tuple[str, str, bool]] = [
    ("When does my order ship?", "when will my order be shipped", True),
    ("When does my order ship?", "hi, when does my order ship? thanks", True),
    ("When does my order ship?", "When does my ordr ship?", True),
    ("When does my order ship?", "my order - when is it shipping?", True),
    ("How do I get a refund?", "How can I get my money back?", True),
    ("How do I get a refund?", "how do i get refunded", True),
    ("How do I reset my password?", "I forgot my password, how do I reset it?", True),
    ("How do I reset my password?", "password reset how?", True),
    ("Cancel my subscription", "Please cancel my subscription now", True),
    ("Cancel my subscription", "I want to cancel my subscription", True),
    ("What are your opening hours?", "When are you open?", True),
    ("What are your opening hours?", "what are the store's opening hours", True),
    ("Do you ship to Canada?", "Can you deliver to Canada?", True),
    ("Do you ship to Canada?", "do you ship to canada??", True),
    ("How long does delivery take?", "How many days until my package arrives?", True),
    ("Can I change my delivery address?", "I need to change the address for my delivery", True),
    ("Is this jacket waterproof?", "Is the jacket waterproof?", True),
    ("How do I contact support?", "how can I reach customer support", True),
    ("Which payment methods do you accept?", "What payment options do you take?", True),
    ("Where is my parcel?", "where's my package", True),
    ("When does my order ship?", "When does my refund arrive?", False),
    ("When does my order ship?", "Can I cancel my order?", False),
    ("When does my order ship?", "When did my order arrive?", False),
    ("How do I get a refund?", "How do I get a discount?", False),
    ("How do I get a refund?", "How do I get an invoice?", False),
    ("How do I reset my password?", "How do I change my email address?", False),
    ("How do I reset my password?", "How do I delete my account?", False),
    ("Cancel my subscription", "Renew my subscription", False),
    ("Cancel my subscription", "Upgrade my subscription", False),
    ("What are your opening hours?", "What is your address?", False),
    ("Do you ship to Canada?", "Do you ship to Mexico?", False),
    ("Do you ship to Canada?", "Do you have stores in Canada?", False),
    ("How long does delivery take?", "How much does delivery cost?", False),
    ("Can I change my delivery address?", "Can I change my payment method?", False),
    ("Is this jacket waterproof?", "Is this jacket machine washable?", False),
    ("Is this jacket waterproof?", "Is this tent waterproof?", False),
    ("How do I contact support?", "How do I contact sales?", False),
    ("Which payment methods do you accept?", "Which currencies do you accept?", False),
    ("Where is my parcel?", "Where is your warehouse?", False),
    ("What is the capital of France?", "What is the capital of Germany?", False),
]
