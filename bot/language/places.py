"""Cities people name after a time ("9am London time", "3pm new york") and the IANA zone each keeps.

A short table of large cities, not every tz name's last part: tz names include ordinary words
("Pacific/Easter", "America/Resolute", "Australia/North") and cities that share a name with
another in a different zone (Portland, Birmingham, Halifax), which are left out on purpose.
"""

from __future__ import annotations

CITY_ZONES: dict[str, str] = {
    # North America
    "new york": "America/New_York", "nyc": "America/New_York", "new york city": "America/New_York",
    "boston": "America/New_York", "miami": "America/New_York", "atlanta": "America/New_York",
    "washington dc": "America/New_York", "dc": "America/New_York", "philadelphia": "America/New_York",
    "detroit": "America/Detroit", "toronto": "America/Toronto", "montreal": "America/Toronto",
    "ottawa": "America/Toronto",
    "chicago": "America/Chicago", "dallas": "America/Chicago", "houston": "America/Chicago",
    "austin": "America/Chicago", "minneapolis": "America/Chicago", "new orleans": "America/Chicago",
    "winnipeg": "America/Winnipeg", "mexico city": "America/Mexico_City",
    "denver": "America/Denver", "salt lake city": "America/Denver", "calgary": "America/Edmonton",
    "edmonton": "America/Edmonton", "phoenix": "America/Phoenix",
    "los angeles": "America/Los_Angeles", "san francisco": "America/Los_Angeles",
    "seattle": "America/Los_Angeles", "san diego": "America/Los_Angeles", "las vegas": "America/Los_Angeles",
    "vegas": "America/Los_Angeles", "la": "America/Los_Angeles", "sf": "America/Los_Angeles",
    "vancouver": "America/Vancouver",
    "anchorage": "America/Anchorage", "honolulu": "Pacific/Honolulu",
    # South America
    "sao paulo": "America/Sao_Paulo", "são paulo": "America/Sao_Paulo", "rio de janeiro": "America/Sao_Paulo",
    "buenos aires": "America/Argentina/Buenos_Aires", "bogota": "America/Bogota", "lima": "America/Lima",
    # Europe
    "london": "Europe/London", "manchester": "Europe/London", "edinburgh": "Europe/London",
    "glasgow": "Europe/London", "belfast": "Europe/London", "dublin": "Europe/Dublin",
    "lisbon": "Europe/Lisbon", "paris": "Europe/Paris", "berlin": "Europe/Berlin", "munich": "Europe/Berlin",
    "frankfurt": "Europe/Berlin", "hamburg": "Europe/Berlin", "madrid": "Europe/Madrid",
    "barcelona": "Europe/Madrid", "rome": "Europe/Rome", "milan": "Europe/Rome", "amsterdam": "Europe/Amsterdam",
    "brussels": "Europe/Brussels", "vienna": "Europe/Vienna", "zurich": "Europe/Zurich", "geneva": "Europe/Zurich",
    "stockholm": "Europe/Stockholm", "oslo": "Europe/Oslo", "copenhagen": "Europe/Copenhagen",
    "helsinki": "Europe/Helsinki", "warsaw": "Europe/Warsaw", "prague": "Europe/Prague",
    "budapest": "Europe/Budapest", "athens": "Europe/Athens", "istanbul": "Europe/Istanbul",
    "moscow": "Europe/Moscow", "kyiv": "Europe/Kyiv", "kiev": "Europe/Kyiv",
    # Africa and the Middle East
    "cairo": "Africa/Cairo", "johannesburg": "Africa/Johannesburg", "cape town": "Africa/Johannesburg",
    "lagos": "Africa/Lagos", "nairobi": "Africa/Nairobi", "dubai": "Asia/Dubai", "tel aviv": "Asia/Jerusalem",
    "jerusalem": "Asia/Jerusalem", "riyadh": "Asia/Riyadh",
    # Asia
    "karachi": "Asia/Karachi", "mumbai": "Asia/Kolkata", "delhi": "Asia/Kolkata", "new delhi": "Asia/Kolkata",
    "bangalore": "Asia/Kolkata", "bengaluru": "Asia/Kolkata", "kolkata": "Asia/Kolkata",
    "chennai": "Asia/Kolkata", "hyderabad": "Asia/Kolkata", "dhaka": "Asia/Dhaka", "bangkok": "Asia/Bangkok",
    "jakarta": "Asia/Jakarta", "singapore": "Asia/Singapore", "kuala lumpur": "Asia/Kuala_Lumpur",
    "manila": "Asia/Manila", "hong kong": "Asia/Hong_Kong", "hk": "Asia/Hong_Kong", "shanghai": "Asia/Shanghai",
    "beijing": "Asia/Shanghai", "shenzhen": "Asia/Shanghai", "taipei": "Asia/Taipei", "seoul": "Asia/Seoul",
    "tokyo": "Asia/Tokyo", "osaka": "Asia/Tokyo",
    # Oceania
    "sydney": "Australia/Sydney", "canberra": "Australia/Sydney", "melbourne": "Australia/Melbourne",
    "brisbane": "Australia/Brisbane", "adelaide": "Australia/Adelaide", "perth": "Australia/Perth",
    "darwin": "Australia/Darwin", "hobart": "Australia/Hobart", "auckland": "Pacific/Auckland",
    "wellington": "Pacific/Auckland",
}
