"""The demo site's own words: planted price effects, filler title words, address parts.

Every word is lower-case ASCII letters only, so pages need no escaping and `title_words`
tokenises each back to itself.
"""

from __future__ import annotations

# Words that move the price: price = base x (1 + sum of the title's planted effects).
PLANTED_EFFECTS: dict[str, float] = {
    "penthouse": 0.40,
    "jacuzzi": 0.30,
    "concierge": 0.25,
    "detached": 0.22,
    "pool": 0.20,
    "riverside": 0.18,
    "luxury": 0.16,
    "terrace": 0.15,
    "mews": 0.14,
    "garden": 0.12,
    "loft": 0.12,
    "renovated": 0.11,
    "parking": 0.10,
    "balcony": 0.10,
    "bedsit": -0.35,
    "studio": -0.30,
    "damp": -0.28,
    "boxroom": -0.26,
    "shared": -0.25,
    "tiny": -0.22,
    "basement": -0.20,
    "discount": -0.20,
    "council": -0.18,
    "lodger": -0.16,
    "noisy": -0.15,
    "dated": -0.12,
    "compact": -0.10,
    "unfurnished": -0.10,
}

# How many planted words a title carries: weights for 0, 1, 2, 3. At most three, so even the
# three most negative effects together leave the price positive.
PLANTED_PER_TITLE_WEIGHTS: tuple[float, ...] = (0.05, 0.25, 0.40, 0.30)

# Words with no effect on price, most common first (drawn with a Zipf-like skew).
_FILLER_WORDS = """
    flat apartment house room bedroom double single bright modern spacious home cosy quiet
    central new lovely large charming stunning beautiful stylish period victorian edwardian
    georgian character family split level ground floor first second top maisonette cottage
    bungalow townhouse duplex conversion newly built open plan kitchen bathroom shower ensuite
    reception lounge dining study office utility conservatory patio courtyard yard roof deck
    view views park near close walk station tube bus rail transport shops amenities schools
    local village town city centre quarter square street road lane avenue crescent
    walkway corner end mid front rear side east west north south facing sunny light
    airy warm clean fresh neat tidy smart elegant grand classic contemporary minimalist
    industrial warehouse chapel barn mill lodge annexe gatehouse coach wing block tower
    estate development scheme residence manor hall villa chalet cabin retreat haven nest
    hideaway gem opportunity offer available immediately now soon move ready vacant long
    short let lease rental rent weekly monthly bills included excluded inclusive deposit
    professional professionals students couple couples sharers pets allowed welcome
    friendly considered wooden floors flooring carpet carpets tiled marble granite oak
    beams fireplace fire wood burner heating gas electric boiler glazing windows
    sash bay high ceilings ceiling cornicing features original restored refurbished
    decorated painted fitted appliances dishwasher washer dryer fridge freezer oven hob
    storage cupboard wardrobe wardrobes dressing area space plenty extra additional
    secure gated entry phone intercom lift porter caretaker maintained managed communal
    gardens lawn trees leafy green peaceful tranquil secluded private own entrance access
    bike store shed workshop garage driveway allocated permit zone wifi broadband fibre
    internet furnishings furniture sofa bed desk chair table lamp mirror curtains blinds
    canal harbour marina waterfront lake woodland common heath hill valley meadow orchard
    abbey bridge castle church market farm
    """
FILLER_WORDS: tuple[str, ...] = tuple(_FILLER_WORDS.split())

_STREET_NAMES = """
    Baker Abbey Queens Kings Church Mill Station Park Victoria Albert Oxford Cambridge
    Chapel Bridge Market Manor Grove Elm Oak Ash Willow Cedar Maple Beech Rose Ivy Holly
    """
STREET_NAMES: tuple[str, ...] = tuple(_STREET_NAMES.split())
STREET_KINDS: tuple[str, ...] = ("Street", "Road", "Lane", "Avenue", "Crescent", "Place", "Way")
_DISTRICTS = """
    Camden Islington Hackney Brixton Clapham Fulham Chelsea Kensington Hammersmith Ealing
    Greenwich Lewisham Peckham Dalston Shoreditch Bermondsey Battersea Wimbledon Richmond
    Highgate Hampstead Stratford Walthamstow Tottenham Wembley Croydon Putney Balham
    """
DISTRICTS: tuple[str, ...] = tuple(_DISTRICTS.split())
IMAGE_COUNT = 12  # images are named /images/i01.jpg .. /images/i12.jpg
