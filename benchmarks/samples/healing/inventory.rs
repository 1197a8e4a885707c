use std::collections::HashMap;
use std::fmt;

/// A stock item in the warehouse inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub name: String,
    pub quantity: u32,
    pub price_cents: u64,
}

#[derive(Debug)]
pub enum InventoryError {
    NotFound(String),
    Insufficient { name: String, wanted: u32, available: u32 },
}

impl fmt::Display for InventoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InventoryError::NotFound(name) => write!(f, "no item named {}", name),
            InventoryError::Insufficient { name, wanted, available } => {
                write!(f, "wanted {} of {}, only {} left", wanted, name, available)
            }
        }
    }
}

pub struct Inventory {
    items: HashMap<String, Item>,
}

impl Inventory {
    pub fn new() -> Self {
        Inventory { items: HashMap::new() }
    }

    pub fn add(&mut self, name: &str, quantity: u32, price_cents: u64) {
        // merge with an existing entry when the item is already stocked
        let entry = self.items.entry(name.to_string()).or_insert(Item {
            name: name.to_string(),
            quantity: 0,
            price_cents,
        });
        entry.quantity += quantity;
    }

    pub fn remove(&mut self, name: &str, quantity: u32) -> Result<Item, InventoryError> {
        let item = self.items.get_mut(name).ok_or_else(|| InventoryError::NotFound(name.to_string()))?;
        if item.quantity < quantity {
            return Err(InventoryError::Insufficient { name: name.to_string(), wanted: quantity, available: item.quantity });
        }
        item.quantity -= quantity;
        Ok(item.clone())
    }

    pub fn total_value(&self) -> u64 {
        self.items.values().map(|item| item.price_cents * item.quantity as u64).sum()
    }
}
