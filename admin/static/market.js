// The contest form fitted to its market: a country chosen fills in its currency and its main time zone (the zones
// offered are its own when it has several), and on a new contest the currency ticks the phone's wallets that take it
// and unticks those that do not; the organiser may still change any of them.
(() => {
  const form = document.getElementById("contest-form");
  const country = document.getElementById("country");
  const currency = document.getElementById("currency");
  const zone = document.getElementById("time_zone");
  const zones = document.getElementById("zones");
  const data = document.getElementById("markets");
  if (!form || !country || !currency || !zone || !zones || !data) return;
  const markets = JSON.parse(data.textContent);
  const allZones = Array.from(zones.options, (option) => option.value);
  const offer = (list) => {
    zones.replaceChildren(...list.map((name) => Object.assign(document.createElement("option"), {value: name})));
  };
  const preselect = () => {
    if (form.dataset.new !== "1") return;  // an existing contest's providers are its organiser's choice
    const code = currency.value.trim().toUpperCase();
    for (const box of form.querySelectorAll("input[name=providers][data-takes]")) {
      const takes = box.dataset.takes === "*" || box.dataset.takes.split(" ").includes(code);
      if (box.dataset.prompts === "1" || !takes) box.checked = box.dataset.prompts === "1" && takes;
    }
  };
  country.addEventListener("change", () => {
    const market = markets[country.value];
    if (!market) return;
    const [money, own] = market;
    currency.value = money;
    currency.dispatchEvent(new Event("input", {bubbles: true}));  // the price's preview follows
    zone.value = own[0] || zone.value;
    offer(own.length > 1 ? own : allZones);
  });
  currency.addEventListener("input", preselect);
})();
